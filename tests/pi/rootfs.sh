#!/usr/bin/env bash
# The emulated Pi's recipe: Raspberry Pi OS Bookworm's Python camera stack on Debian arm64.
# Usage: rootfs.sh MIRROR TARGET_DIR (as root, with binfmt for aarch64 enabled). tests/pi/run
# rebuilds the cached root whenever this file or pykms.py changes.
set -euo pipefail
mirror=$1 target=$2
here=$(cd "$(dirname "$0")" && pwd)

# Debian's counterparts of the apt packages Raspberry Pi OS installs under python3-picamera2;
# gcc and python3-dev because picamera2's PiDNG builds from source. python3-numexpr is compiled
# against numpy 1.x like Pi OS's python3-simplejpeg: it is what breaks if pip brings numpy 2.
packages=python3,python3-venv,python3-pip,python3-numpy,python3-pil,python3-prctl,python3-numexpr
packages+=,ca-certificates,gcc,libc6-dev,python3-dev
# libcamera 0.3 with its Python binding is in bookworm-backports (as on Pi OS, a newer one).
backports="python3-libcamera libcamera-ipa"

in_root() { env -i PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    QEMU_CPU=cortex-a72 chroot "$target" "$@"; }

mmdebstrap --quiet --arch=arm64 --variant=minbase --include="$packages" \
    --customize-hook="chroot \"\$1\" apt-get install -y -qq -t bookworm-backports $backports" \
    bookworm "$target" \
    "deb $mirror bookworm main" "deb $mirror bookworm-updates main" \
    "deb $mirror bookworm-backports main"

# The host's extra CA certificates (a proxy's), or pip fails its certificate checks.
cp /usr/local/share/ca-certificates/*.crt "$target/usr/local/share/ca-certificates/" 2>/dev/null \
    || true
in_root update-ca-certificates >/dev/null
cp /etc/resolv.conf "$target/etc/resolv.conf"

site=$target/usr/lib/python3/dist-packages
# python3-libcamera installs where Debian's python3.11 does not look.
libcamera_init=$(in_root dpkg -L python3-libcamera | grep '/libcamera/__init__.py$')
dirname "$(dirname "$libcamera_init")" >"$site/libcamera-backports.pth"
cp "$here/pykms.py" "$site/pykms.py"

# picamera2 itself (with av, simplejpeg, PiDNG) into the system, where apt puts it on a Pi.
in_root python3 -m pip install -q --no-cache-dir --break-system-packages picamera2==0.3.38
