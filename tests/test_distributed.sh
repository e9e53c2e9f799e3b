#!/usr/bin/env bash
# Data-parallel training on the CPU with 2 MPI ranks (the `dist` suite):
#   1. mpirun -np 2 and one process with --micro-batch of half the batch write
#      byte-identical model files: the VQ-VAE over 60 steps (a dead-code
#      restart at step 50), the VAE and the prior over 20;
#      and on 257 images with batch 8, whose last batch of 1 image is shorter
#      than the 2 parts (it is dropped, the same way on both);
#   2. errors end the whole job with a clear message and a non-zero exit:
#      a batch that does not split over 3 ranks, a rank killed mid-run (the
#      last checkpoint stays intact and resumes under mpirun), a resume with
#      another number of ranks.
# Usage: test_distributed.sh BUILD_DIR   (run from the repository root)
set -euo pipefail
build=$1
train=$build/tools/train
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# CI runs as root; OpenMPI refuses that unless told. One thread per rank, and
# more ranks than cores allowed.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
# containers often forbid the cross-process memory reads of shared-memory
# transfers (ptrace); copy through the shared segment instead
export OMPI_MCA_btl_vader_single_copy_mechanism=none
mpi=(mpirun -np 2 --oversubscribe)
common=(--threads 1 --batch 128 --eval-limit 200)

fail() { echo "FAIL: $*" >&2; exit 1; }
same() {  # same FILE_A FILE_B WHAT
  cmp -s "$1" "$2" || fail "$3: the 2-rank and the micro-batch model files differ"
  echo "ok: $3: 2 ranks and --micro-batch 64 give byte-identical model files"
}

echo "== VQ-VAE, 60 steps"
"${mpi[@]}" "$train" --model vqvae --steps 60 "${common[@]}" --out "$work/vq_mpi" 2>"$work/vq_mpi.log" \
  || { cat "$work/vq_mpi.log"; fail "mpirun -np 2 train --model vqvae"; }
grep -q "data parallel: 2 rank(s) (mpi)" "$work/vq_mpi.log" || fail "the 2-rank run did not say it ran on 2 ranks"
"$train" --model vqvae --steps 60 "${common[@]}" --micro-batch 64 --out "$work/vq_micro" 2>/dev/null
same "$work/vq_mpi/model.safetensors" "$work/vq_micro/model.safetensors" "VQ-VAE"
restarted=$(python3 -c 'import json,sys; print(max(json.loads(l).get("restarted_codes", 0) for l in open(sys.argv[1])))' \
  "$work/vq_mpi/metrics.jsonl")
[ "${restarted%.*}" -gt 0 ] || fail "no dead-code restart happened in the 60 steps, so the test did not cover one"
echo "ok: the run restarted $restarted dead codes on the way"

echo "== VAE, 20 steps"
"${mpi[@]}" "$train" --model vae --steps 20 "${common[@]}" --out "$work/vae_mpi" 2>/dev/null
"$train" --model vae --steps 20 "${common[@]}" --micro-batch 64 --out "$work/vae_micro" 2>/dev/null
same "$work/vae_mpi/model.safetensors" "$work/vae_micro/model.safetensors" "VAE"

echo "== prior, 20 steps"
vq=$work/vq_micro/model.safetensors
"${mpi[@]}" "$train" --model prior --vqvae "$vq" --steps 20 "${common[@]}" --out "$work/pr_mpi" 2>/dev/null
"$train" --model prior --vqvae "$vq" --steps 20 "${common[@]}" --micro-batch 64 --out "$work/pr_micro" 2>/dev/null
same "$work/pr_mpi/model.safetensors" "$work/pr_micro/model.safetensors" "prior"

echo "== a short last batch: 257 images, batch 8, 2 parts"
python3 - "$work/small" <<'PY'
import gzip, os, sys
src, out = "/usr/share/datasets/fashion-mnist", sys.argv[1]
os.makedirs(out)
for split, n in (("train", 257), ("t10k", 64)):
    name = split + "-images-idx3-ubyte"
    path = os.path.join(src, name)
    data = gzip.open(path + ".gz").read() if os.path.exists(path + ".gz") else open(path, "rb").read()
    head = bytearray(data[:16]); head[4:8] = n.to_bytes(4, "big")
    open(os.path.join(out, name), "wb").write(bytes(head) + data[16:16 + n * 784])
PY
short=(--model vqvae --epochs 2 --threads 1 --batch 8 --eval-limit 64 --data "$work/small")
"${mpi[@]}" "$train" "${short[@]}" --out "$work/short_mpi" 2>"$work/short_mpi.log" \
  || { cat "$work/short_mpi.log"; fail "mpirun -np 2 on 257 images with batch 8"; }
"$train" "${short[@]}" --micro-batch 4 --out "$work/short_micro" 2>"$work/short_micro.log" \
  || { cat "$work/short_micro.log"; fail "--micro-batch 4 on 257 images with batch 8"; }
same "$work/short_mpi/model.safetensors" "$work/short_micro/model.safetensors" "VQ-VAE, short last batch"
grep -q "64 steps of batch 8 (32 per epoch)" "$work/short_micro.log" || { cat "$work/short_micro.log"; fail "the short batch was not dropped"; }
echo "ok: 2 epochs of 32 steps: the last image of each epoch waits for the next shuffle"

echo "== a batch that does not split over 3 ranks"
if mpirun -np 3 --oversubscribe "$train" --model vqvae --steps 2 "${common[@]}" --out "$work/three" 2>"$work/three.log"; then
  fail "mpirun -np 3 with --batch 128 succeeded"
fi
grep -q "does not split evenly over 3 ranks" "$work/three.log" || { cat "$work/three.log"; fail "no clear message for -np 3"; }
echo "ok: -np 3 with --batch 128 fails: $(grep -m1 'does not split' "$work/three.log" | sed 's/^.*error: //')"

echo "== a rank killed mid-run"
"${mpi[@]}" "$train" --model vqvae --steps 100000 --save-every 5 "${common[@]}" --out "$work/killed" 2>"$work/killed.log" &
job=$!
for _ in $(seq 600); do [ -f "$work/killed/model.safetensors" ] && break; sleep 0.2; done
[ -f "$work/killed/model.safetensors" ] || fail "no checkpoint appeared"
rank1=""  # the process of that run whose environment says rank 1 (no procps needed)
for dir in /proc/[0-9]*; do
  tr '\0' ' ' < "$dir/cmdline" 2>/dev/null | grep -q -- "--out $work/killed" || continue
  if tr '\0' '\n' < "$dir/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=1"; then rank1=${dir#/proc/}; fi
done
[ -n "$rank1" ] || fail "could not find rank 1"
kill -9 "$rank1"
for _ in $(seq 300); do kill -0 "$job" 2>/dev/null || break; sleep 0.2; done
if kill -0 "$job" 2>/dev/null; then kill -9 "$job"; fail "the job hung after rank 1 was killed"; fi
if wait "$job"; then fail "the job exited 0 after rank 1 was killed"; fi
echo "ok: killing rank 1 ended the job with a non-zero exit"
step=$(python3 - "$work/killed/model.safetensors" <<'PY'
import json, struct, sys
data = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", data[:8])[0]
print(json.loads(data[8:8 + n])["__metadata__"]["step"])
PY
)
"${mpi[@]}" "$train" --resume "$work/killed" --steps $((step + 2)) 2>"$work/resume.log" \
  || { cat "$work/resume.log"; fail "the checkpoint left by the killed job does not resume under mpirun"; }
echo "ok: the last checkpoint (step $step) is intact and resumes under mpirun -np 2"

echo "== a resume with another number of ranks"
if "$train" --resume "$work/killed" --steps $((step + 4)) 2>"$work/one.log"; then fail "a 2-rank run resumed on 1 process"; fi
grep -q "trained on 2 rank(s) and is resumed on 1" "$work/one.log" || { cat "$work/one.log"; fail "no clear message"; }
echo "ok: resuming a 2-rank run on 1 process fails: $(grep -m1 'rank(s)' "$work/one.log" | sed 's/^.*error: //')"
