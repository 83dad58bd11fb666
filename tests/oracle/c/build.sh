#!/bin/sh
# build.sh OUTDIR - build the C side of the pvnsim fidelity oracle.
# build.sh OUTDIR bench - build the C baseline of bench/run.py instead.
#
# Compiles the unmodified illumos vm_pvn.c (the vendored copy in illumos/,
# or the file $PVNSIM_VM_PVN_C names) against the shadow headers in
# include/ and the C model of the primitives, producing OUTDIR/pvn_oracle
# (and pvn_oracle_nodebug); with `bench', OUTDIR/pvn_bench (bench.c instead
# of driver.c, no tracing, a large page hash).
#
# Environment: PVNSIM_VM_PVN_C (optional) another vm_pvn.c to compile;
#              CC (default gcc).
set -eu

here=$(cd "$(dirname "$0")" && pwd)

if [ $# -eq 2 ] && [ "$2" = bench ]; then
	target=bench
elif [ $# -eq 1 ]; then
	target=oracle
else
	echo "usage: $0 OUTDIR [bench]" >&2
	exit 2
fi
outdir=$1

src=${PVNSIM_VM_PVN_C:-$here/illumos/vm_pvn.c}
if [ ! -f "$src" ] || [ ! -r "$src" ]; then
	if [ -n "${PVNSIM_VM_PVN_C:-}" ]; then
		echo "build.sh: PVNSIM_VM_PVN_C=$src is not a readable file" >&2
	else
		echo "build.sh: the vendored $src is missing" >&2
	fi
	exit 1
fi

mkdir -p "$outdir"

if [ "$target" = bench ]; then
	# A production kernel (no DEBUG) on an efficient model: tracing
	# compiled out (-DORACLE_BENCH) and a hash big enough for 100,000
	# pages.  Not linked with driver.c.
	${CC:-gcc} -O2 -std=gnu99 -w -DORACLE_BENCH -DHASH_SIZE=262144 \
	    -I"$here/include" \
	    "$src" "$here/model.c" "$here/bench.c" \
	    -o "$outdir/pvn_bench"
	echo "built $outdir/pvn_bench"
	exit 0
fi

# -DDEBUG: a DEBUG kernel (active ASSERTs and the DEBUG-only block of
# pvn_vplist_dirty).  -w: vm_pvn.c is kernel code written for another
# compiler; its warnings are not ours to fix.
${CC:-gcc} -O2 -std=gnu99 -w -DDEBUG -I"$here/include" \
    "$src" "$here/model.c" "$here/driver.c" \
    -o "$outdir/pvn_oracle"

# The same without DEBUG: a production kernel, which skips vm_pvn.c's
# DEBUG-only block (our ASSERTs stay active in both builds).
${CC:-gcc} -O2 -std=gnu99 -w -I"$here/include" \
    "$src" "$here/model.c" "$here/driver.c" \
    -o "$outdir/pvn_oracle_nodebug"

echo "built $outdir/pvn_oracle and $outdir/pvn_oracle_nodebug"
