{
  "variables": {
    "variables": {
      # A folder with NAME.skel.h made elsewhere (the prebuild makes them on the host,
      # then compiles in an older userland that has no clang or bpftool).
      "bpf_skeletons%": ""
    },
    "bpf_skeletons%": "<(bpf_skeletons)",
    "deps": "<!(bash scripts/static-deps.sh)"
  },
  "targets": [
    {
      "target_name": "tapwire",
      "sources": [
        "native/addon.cc",
        "native/common/batch.cc",
        "native/common/buffer_pool.cc",
        "native/common/clock_offset.cc",
        "native/common/delivery.cc",
        "native/common/errors.cc",
        "native/common/instance.cc",
        "native/common/interfaces.cc",
        "native/common/libbpf_log.cc",
        "native/common/link_watch.cc",
        "native/common/mapping.cc",
        "native/common/netns.cc",
        "native/common/packet_socket.cc",
        "native/common/ring_reader.cc",
        "native/common/verifier_log.cc",
        "native/ebpf/capture_programs.cc",
        "native/ebpf/ebpf_capture.cc",
        "native/ebpf/filter_program.cc",
        "native/ebpf/owner_hooks.cc",
        "native/ebpf/proc_sockets.cc",
        "native/file/savefile.cc",
        "native/filter/compile.cc",
        "native/filter/match.cc",
        "native/layout_checks.cc",
        "native/probe/probe.cc",
        "native/raw_socket/packet_ring.cc",
        "native/tls/tls_capture.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<(deps)/include",
        "<(SHARED_INTERMEDIATE_DIR)"
      ],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-missing-field-initializers"],
      # Linked in whole and kept to ourselves: no capture library is needed at run
      # time, and none of their symbols is exported to clash with another copy.
      "libraries": [
        "-Wl,--start-group",
        "<(deps)/lib/libbpf.a",
        "<(deps)/lib/libelf.a",
        "<(deps)/lib/libpcap.a",
        "<(deps)/lib/libz.a",
        "-Wl,--end-group"
      ],
      "ldflags": ["-Wl,--exclude-libs,ALL", "-Wl,--as-needed"],
      "actions": [
        {
          # The layouts lib/ reads, as constants native/layout_checks.cc checks against.
          "action_name": "layout_header",
          "inputs": ["scripts/layout-header.js", "<!@(node scripts/layout-header.js --inputs)"],
          "outputs": ["<(SHARED_INTERMEDIATE_DIR)/layout.h"],
          "action": ["node", "scripts/layout-header.js", "<(SHARED_INTERMEDIATE_DIR)/layout.h"]
        }
      ],
      "conditions": [
        ["bpf_skeletons!=''", {
          "include_dirs": ["<(bpf_skeletons)"]
        }, {
          "actions": [
            {
              "action_name": "capture_skeleton",
              "inputs": ["native/ebpf/bpf/capture.bpf.c", "native/ebpf/bpf/capture.h", "native/ebpf/bpf/owner.h", "native/ebpf/bpf/owner_lookup.h", "native/common/bpf/ring_wakeup.h", "scripts/bpf-skeleton.sh"],
              "outputs": ["<(SHARED_INTERMEDIATE_DIR)/capture.skel.h"],
              "action": ["bash", "scripts/bpf-skeleton.sh", "native/ebpf/bpf/capture.bpf.c", "<(SHARED_INTERMEDIATE_DIR)/capture.skel.h", "<(deps)"]
            },
            {
              "action_name": "owners_skeleton",
              "inputs": ["native/ebpf/bpf/owners.bpf.c", "native/ebpf/bpf/owner.h", "scripts/bpf-skeleton.sh"],
              "outputs": ["<(SHARED_INTERMEDIATE_DIR)/owners.skel.h"],
              "action": ["bash", "scripts/bpf-skeleton.sh", "native/ebpf/bpf/owners.bpf.c", "<(SHARED_INTERMEDIATE_DIR)/owners.skel.h", "<(deps)"]
            },
            {
              "action_name": "owner_files_skeleton",
              "inputs": ["native/ebpf/bpf/owner_files.bpf.c", "native/ebpf/bpf/owner.h", "scripts/bpf-skeleton.sh"],
              "outputs": ["<(SHARED_INTERMEDIATE_DIR)/owner_files.skel.h"],
              "action": ["bash", "scripts/bpf-skeleton.sh", "native/ebpf/bpf/owner_files.bpf.c", "<(SHARED_INTERMEDIATE_DIR)/owner_files.skel.h", "<(deps)"]
            },
            {
              "action_name": "tls_skeleton",
              "inputs": ["native/tls/bpf/tls.bpf.c", "native/tls/bpf/tls.h", "native/common/bpf/ring_wakeup.h", "scripts/bpf-skeleton.sh"],
              "outputs": ["<(SHARED_INTERMEDIATE_DIR)/tls.skel.h"],
              "action": ["bash", "scripts/bpf-skeleton.sh", "native/tls/bpf/tls.bpf.c", "<(SHARED_INTERMEDIATE_DIR)/tls.skel.h", "<(deps)"]
            }
          ]
        }]
      ]
    }
  ]
}
