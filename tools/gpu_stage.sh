#!/usr/bin/env bash
# Prepares the GPU check for a machine that has a GPU but none of this
# project's build dependencies (the device machine): builds here with
# -Dcuda=enabled and packs the executables, the shared libraries they need
# beyond glibc/libstdc++/CUDA, and the Fashion-MNIST files into .gpu/
# (ignored by git). tools/gpu_check.sh unpacks and uses them.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install_deps.sh
if [ ! -f build-cuda/build.ninja ]; then meson setup build-cuda -Dcuda=enabled; fi
ninja -C build-cuda
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
rm -rf .gpu && mkdir -p .gpu/data
stage=$(mktemp -d)
mkdir -p "$stage/bin" "$stage/lib" "$stage/cuda" "$stage/distributed"
cp build-cuda/tests/test_cuda build-cuda/tools/{bench,train,evaluate,sample,compress,decompress} "$stage/bin/"
# the CUDA (and NCCL) backend modules, where the executables look for them: <bin>/../cuda, <bin>/../distributed
cp build-cuda/cuda/libvqcuda.so "$stage/cuda/"
[ -f build-cuda/distributed/libvqnccl.so ] && cp build-cuda/distributed/libvqnccl.so "$stage/distributed/"
# every non-system library the executables and modules load (CUDA's own come from the GPU machine)
for lib in $(ldd "$stage"/bin/* "$stage"/cuda/*.so "$stage"/distributed/*.so 2>/dev/null | awk '/=>/ {print $3}' | sort -u); do
  case "$(basename "$lib")" in
    libc.so*|libm.so*|libstdc++*|libgcc_s*|libpthread*|libdl*|librt*|ld-linux*|libcublas*|libcuda.so*|libnccl*) ;;
    *) cp -L "$lib" "$stage/lib/" ;;
  esac
done
tar -cJf .gpu/stage.tar.xz -C "$stage" .
rm -rf "$stage"
cp /usr/share/datasets/fashion-mnist/*.gz .gpu/data/
du -sh .gpu
