# shellcheck shell=bash
# Sourced helper: mounts inside a chroot, and their removal. Every mount made here is
# recorded by its mount point, so the exit trap removes exactly those, innermost first,
# even when the script fails half-way.

mounted=()

# mount_into ROOT: proc, sys and dev inside ROOT (what a capture needs from the kernel).
mount_into() {
  local root=$1
  mkdir -p "$root/proc" "$root/sys" "$root/dev"
  mount -t proc proc "$root/proc" && mounted+=("$root/proc")
  mount --rbind /sys "$root/sys" && mount --make-rslave "$root/sys" && mounted+=("$root/sys")
  mount --rbind /dev "$root/dev" && mount --make-rslave "$root/dev" && mounted+=("$root/dev")
}

# bind_into ROOT PATH [ro]: the host's PATH at the same path inside ROOT.
bind_into() {
  local root=$1 path=$2 mode=${3:-rw}
  if [ -d "$path" ]; then mkdir -p "$root$path"; else mkdir -p "$(dirname "$root$path")" && touch "$root$path"; fi
  mount --bind "$path" "$root$path" && mounted+=("$root$path")
  [ "$mode" = ro ] && mount -o remount,bind,ro "$root$path"
  return 0
}

# unmount_all: every recorded mount, last first; fails if any stays.
unmount_all() {
  local i status=0
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    umount -R "${mounted[i]}" 2>/dev/null || umount -R -l "${mounted[i]}" || status=1
  done
  mounted=()
  return $status
}

# remove_root DIR: deletes a root made for a chroot, never what is mounted inside it.
remove_root() {
  local dir=$1
  if awk -v d="$dir/" 'index($2, d) == 1 { found = 1 } END { exit !found }' /proc/self/mounts; then
    echo "still mounted below $dir: not removing it" >&2
    return 1
  fi
  rm -rf --one-file-system "$dir"
}
