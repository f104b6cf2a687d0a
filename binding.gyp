{
  "targets": [
    {
      "target_name": "tapwire",
      "sources": [
        "native/addon.cc",
        "native/common/batch.cc",
        "native/common/delivery.cc",
        "native/common/errors.cc",
        "native/common/interfaces.cc",
        "native/filter/compile.cc",
        "native/probe/probe.cc",
        "native/raw_socket/packet_ring.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-missing-field-initializers"],
      "libraries": ["-lpcap"]
    }
  ]
}
