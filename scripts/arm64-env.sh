# shellcheck shell=bash
# The environment for cross-building streetwatch for aarch64 (64-bit ARM) on an x86-64 Debian
# machine: Debian's cross compiler, the arm64 OpenCV that setup unpacked into a sysroot folder
# ($ARM64_SYSROOT), and qemu-user to run what was built. Source it after
# `eval "$(scripts/setup.sh --arm64)"`.

: "${ARM64_SYSROOT:?run eval \"\$(scripts/setup.sh --arm64)\" first}"
ARM64_TARGET=aarch64-unknown-linux-gnu
A64_LIB="$ARM64_SYSROOT/usr/lib/aarch64-linux-gnu"
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
# OpenCV's own dependencies (FFmpeg, GDAL, …) are found in the sysroot when linking.
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C link-arg=-Wl,-rpath-link,$A64_LIB -C link-arg=-Wl,-rpath-link,$ARM64_SYSROOT/lib/aarch64-linux-gnu"
# `cargo test --target aarch64-…` runs the test binaries through qemu, with the sysroot as /.
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64-static -L $ARM64_SYSROOT"
export QEMU_LD_PREFIX="$ARM64_SYSROOT"
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
export CXX_aarch64_unknown_linux_gnu=aarch64-linux-gnu-g++
# The sysroot has no pkg-config setup for the cross build: the opencv crate is told where its
# parts are instead.
export OPENCV_LINK_LIBS="opencv_core,opencv_imgproc,opencv_imgcodecs,opencv_videoio,opencv_video"
export OPENCV_LINK_PATHS="$A64_LIB"
export OPENCV_INCLUDE_PATHS="$ARM64_SYSROOT/usr/include/opencv4,$ARM64_SYSROOT/usr/include/aarch64-linux-gnu/opencv4"
