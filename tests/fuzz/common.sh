# common.sh — shared by tests/fuzz/run and tests/fuzz/replay (sourced).
#
# Targets are the files tests/fuzz/fuzz_NAME.c; NAME's seeds live in
# tests/fuzz/corpus/NAME/ and the inputs that once crashed it in
# tests/fuzz/crashes/NAME/.  A target may name the module sources it needs
# in a "fuzz-requires: src/a.c src/b.c" line of its opening comment; while
# one is missing from this tree the target is skipped (its module has not
# been merged yet).
#
# The compiler flags and libraries come from the Makefile itself (make_var),
# so the fuzz builds cannot drift from the product's.

FUZZ_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$FUZZ_DIR/../.." && pwd)
cd "$REPO" || exit 1

# make_var NAME: the value of a variable of the Makefile, as make expands it.
make_var() {
    make -s --no-print-directory -f Makefile -f - keel-print-var VAR="$1" <<'MK'
keel-print-var:
	$(info $($(VAR)))
	@:
MK
}

# Flags as bash arrays (eval honours the quotes in -DKEEL_VERSION='"..."').
eval "FUZZ_CPPFLAGS=($(make_var CPPFLAGS))"
eval "FUZZ_LIBS=($(make_var DYN_LIBS))"
eval "FUZZ_LIB_SRCS=($(make_var LIB_SRCS))"
# Our own files are held to the project's warnings.
FUZZ_WARN=(-std=gnu11 -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes
           -Wno-unused-parameter -I"$FUZZ_DIR")

# fuzz_targets: the target names, one a line.
fuzz_targets() {
    local f
    for f in "$FUZZ_DIR"/fuzz_*.c; do
        [ -e "$f" ] || continue
        f=${f##*/fuzz_}
        echo "${f%.c}"
    done
}

# fuzz_missing NAME: prints the required sources of target NAME that are not
# in the tree (nothing when it can be built).
fuzz_missing() {
    local req s
    req=$(sed -n 's/.*fuzz-requires:\(.*\)$/\1/p' "$FUZZ_DIR/fuzz_$1.c" | head -n 1)
    for s in $req; do
        [ -f "$REPO/$s" ] || echo "$s"
    done
}

# fuzz_inputs NAME: the seed and crash directories of NAME that exist.
fuzz_inputs() {
    local d
    for d in "$FUZZ_DIR/corpus/$1" "$FUZZ_DIR/crashes/$1"; do
        [ -d "$d" ] && echo "$d"
    done
}

# newer_than OUT SRC...: true when OUT is missing or older than a SRC or a header.
needs_build() {
    local out=$1 s
    shift
    [ -f "$out" ] || return 0
    for s in "$@"; do
        [ "$s" -nt "$out" ] && return 0
    done
    [ -n "$(find "$REPO/include" "$FUZZ_DIR/fuzz.h" -newer "$out" -print -quit)" ] && return 0
    return 1
}
