#!/bin/bash
# test_import.sh — issue 15's OCI and Docker images: `keel import` of an OCI
# image layout, an OCI archive and `docker save` output that the test writes
# itself (tests/tools/mkimage: three layers with a whiteout, an opaque
# directory, a hard link, a symlink, a setuid file, and a config with
# Entrypoint, Cmd, Env, WorkingDir, User), run with `image =`; and every
# hostile archive of docs/images.md refused with nothing written outside
# DEST and no layer under its final name that was not whole and verified.
. "$(dirname "$0")/lib.sh"

# test_debian builds a Debian root with debootstrap once (cached in
# build/cache) and imports 200 MB of it: more than the default minute.
TEST_TIMEOUT=${TEST_TIMEOUT_IMPORT:-300}

MKIMAGE=$REPO/tests/tools/mkimage

# mkimg FORMAT OUT [ARG]...: writes a test image (fails the test when it cannot).
mkimg() {
    local fmt=$1 out=$2
    shift 2
    "$MKIMAGE" --format "$fmt" --base "$LAYERS/base" --out "$out" "$@" 2> "$T/mkimage.err" ||
        fail "mkimage $fmt: $(tail -n 1 "$T/mkimage.err")"
}

# import SOURCE DEST [ARG]...: keel import; sets IRC, $T/import.out/.err.
import() {
    timeout -k 2 $((60 * SLOW)) "$KEEL" import "$@" > "$T/import.out" 2> "$T/import.err"
    IRC=$?
}

test_formats() {
    plan oci_imported archive_imported docker_imported layers_shared layers_private \
         entrypoint_cmd workdir user env layer_order whiteout opaque setuid hardlink symlink owner xattrs \
         archive_same docker_same override_command override_env override_user plan_marks
    mkimg oci "$T/oci" --tag example.org/test/app:1.0
    mkimg oci-archive "$T/oci.tar" --tag example.org/test/app-archive:latest
    mkimg docker "$T/docker.tar" --tag app-docker:latest
    import "$T/oci" "$T/dest"
    check oci_imported "import of the OCI layout failed: $(cat "$T/import.err")" \
        eval '[ "$IRC" = 0 ] && [ -f "$T/dest/app-1.0.image" ]'
    import "$T/oci.tar" "$T/dest"
    check archive_imported "import of the OCI archive failed: $(cat "$T/import.err")" \
        eval '[ "$IRC" = 0 ] && [ -f "$T/dest/app-archive.image" ]'
    # The archive holds the same blobs: nothing new is extracted.
    check layers_shared "the OCI archive's layers were extracted again" grep_in '\(0 new\)' "$T/import.out"
    import "$T/docker.tar" "$T/dest"
    check docker_imported "import of the docker save tar failed: $(cat "$T/import.err")" \
        eval '[ "$IRC" = 0 ] && [ -f "$T/dest/app-docker.image" ]'
    manifest <<EOF
$(system_section)
[container oci]
image = $T/dest/app-1.0

[container archive]
image = $T/dest/app-archive

[container docker]
image = $T/dest/app-docker

[container over]
image = $T/dest/app-docker
command = replaced 'the second'
env = GREETING=from the manifest
user = 0:0
EOF
    keel_check --plan "$T/keel.ini"
    # The setuid-root file of the image exists under DEST/layers (control), and
    # another user of the host cannot reach it there.
    local suid
    suid=$(ls -d "$T"/dest/layers/sha256-*/app/hello 2>/dev/null | head -n 1)
    check layers_private "a user other than root reaches the image's setuid file ${suid:-(none found)}" \
        eval '[ -n "$suid" ] && [ -u "$suid" ] && [ "$(stat -c %a "$T/dest/layers")" = 700 ] &&
              ! setpriv --reuid=65534 --regid=65534 --clear-groups test -e "$suid"'
    check plan_marks "keel check --plan does not say what came from the image" \
        grep_in "^  image = $T/dest/app-docker.image \(from the image: layers command env workdir stop_signal\)" "$CHECK_OUT"
    keel_start
    local c
    for c in oci archive docker over; do
        wait_out "$c" DONE=yes || fail "container $c did not finish ($WHY)"
    done
    keel_wait || fail "keel did not exit ($WHY)"
    # Docker's rule: Entrypoint + Cmd, Cmd's first word is sh -c's $0.
    check entrypoint_cmd "Entrypoint and Cmd" eval '[ "$(c_value oci ARG0)" = first ] && [ "$(c_value oci ARG1)" = "second arg" ]'
    check workdir "WorkingDir" eq "$(c_value oci CWD)" /home/app
    check user "User" eq "$(c_value oci ID)" 1000:1000
    check env "Env" eq "$(c_value oci GREETING)" "hello from the image"
    check layer_order "the top layer's /etc/layer" eq "$(c_value oci LAYER)" three
    check whiteout "the whiteout of /etc/gone" eq "$(c_value oci GONE)" absent
    check opaque "the opaque /opq" eq "$(c_value oci OPQ)" "new"
    check setuid "the setuid bit" eq "$(c_value oci MODE)" 4755
    check hardlink "the hard link" eval '[ "$(c_value oci HARD)" = same ] && [ "$(c_value oci LINKS)" = 2 ]'
    check symlink "the symlink" eq "$(c_value oci SYMLINK)" hello
    check owner "the owner of /home/app" eq "$(c_value oci OWNER)" 1000:1000
    # xattrs, read on the extracted layer: user.* kept, trusted.* left out.
    local xa
    xa=$(python3 -c 'import os, sys
p = sys.argv[1]
print(os.getxattr(p, "user.keel").decode(), "trusted.overlay.redirect" in os.listxattr(p))' "$suid" 2>&1)
    check xattrs "user.keel kept and trusted.overlay.redirect left out on $suid" eq "$xa" "kept False"
    local k same_a=1 same_d=1
    for k in ARG0 ARG1 CWD ID GREETING LAYER GONE OPQ MODE LINKS HARD SYMLINK OWNER; do
        [ "$(c_value archive "$k")" = "$(c_value oci "$k")" ] || same_a=0
        [ "$(c_value docker "$k")" = "$(c_value oci "$k")" ] || same_d=0
    done
    check archive_same "the OCI archive's container differs from the layout's" eq "$same_a" 1
    check docker_same "the docker save container differs from the OCI one" eq "$same_d" 1
    check override_command "command = replaces Cmd, keeps Entrypoint" \
        eval '[ "$(c_value over ARG0)" = replaced ] && [ "$(c_value over ARG1)" = "the second" ]'
    check override_env "env = overrides the image's" eq "$(c_value over GREETING)" "from the manifest"
    check override_user "user = overrides the image's" eq "$(c_value over ID)" 0:0
}

# A hostile image per kind, imported into one DEST (a small base layer: the
# rules are about the members, not the payload): refused with its own error,
# $T/outside untouched, nothing temporary left, no .image, and no layer under
# a final name but those a good import of the same image makes before the
# hostile layer (the hostile layers all differ, so none may appear).
test_hostile() {
    local kinds="absolute dotdot symlink-write hardlink-out hardlink-later device digest blob-size bomb-size bomb-skipped bomb-entries"
    # shellcheck disable=SC2086
    plan good_control $kinds
    mkdir -p "$T/outside" "$T/tiny/etc"
    echo tiny > "$T/tiny/etc/tiny"
    "$MKIMAGE" --format oci --base "$T/tiny" --out "$T/good" 2> "$T/mkimage.err" || fail "mkimage: $(tail -n 1 "$T/mkimage.err")"
    import "$T/good" "$T/gdest"
    require "the good image does not import: $(cat "$T/import.err")" eq "$IRC" 0
    check good_control "the good image's import left temporary files" \
        eval '[ -z "$(ls -A "$T/gdest/layers" | grep -v "^sha256-")" ]'
    # Layer names, bottom first (the .image lists them top first).
    local -a L
    mapfile -t L < <(sed -nE "s/^layer = '(layers\/)?([^']*)'$/\2/p" "$T/gdest/app.image" | tac)
    require "the good image has not three layers (${L[*]})" eq "${#L[@]}" 3
    local kind want d=$T/dest n bad
    local -a extra
    for kind in $kinds; do
        extra=()
        case $kind in
            absolute|dotdot) want="absolute path or '\.\.'" ;;
            symlink-write) want="written through a symlink" ;;
            hardlink-out) want="points outside the layer" ;;
            hardlink-later) want="not an extracted file of the layer" ;;
            device) want="is a device node" ;;
            digest) want="does not match its digest" ;;
            blob-size) want="more data than its declared size" ;;
            bomb-size|bomb-skipped) want="size limit"; extra=(--max-size 1M) ;;
            bomb-entries) want="more than 1000 members"; extra=(--max-entries 1000) ;;
        esac
        rm -rf "$T/h"
        "$MKIMAGE" --format oci --base "$T/tiny" --out "$T/h" --hostile "$kind" --outside "$T/outside" 2> "$T/mkimage.err" ||
            fail "mkimage $kind: $(tail -n 1 "$T/mkimage.err")"
        import "${extra[@]}" "$T/h" "$d"
        bad=""
        [ "$IRC" != 0 ] || bad="imported (status 0)"
        grep -qE -- "$want" "$T/import.err" || bad="${bad:+$bad; }no /$want/ in: $(head -c 300 "$T/import.err")"
        [ -z "$(ls -A "$T/outside")" ] || bad="${bad:+$bad; }written outside DEST: $(ls -A "$T/outside")"
        for n in $(ls -A "$d/layers" 2>/dev/null) $(ls -A "$d" 2>/dev/null | grep -vx layers); do
            case " ${L[0]} ${L[1]} " in *" $n "*) ;; *) bad="${bad:+$bad; }left $n" ;; esac
        done
        check "$kind" "$bad" eq "$bad" ""
    done
}

# An image's own text is never shown raw to the admin's terminal, where an
# escape sequence (ESC ] 2 ; ... BEL retitles it; others rewrite the screen
# or answer into its input) would be obeyed: a member name quoted in keel
# import's error comes out escaped (\x1b), and a config value with a control
# character, which the .image would carry to keel check's and the console's
# messages, is refused at import.
test_escapes() {
    plan member_escaped config_refused long_config_refused
    mkdir -p "$T/tiny/etc"
    echo tiny > "$T/tiny/etc/tiny"
    # controls FILE: the control bytes of FILE but newline and tab, as hex.
    controls() { LC_ALL=C tr -d '\n\t\040-\176\200-\377' < "$1" | od -An -tx1 | tr -d ' \n'; }
    "$MKIMAGE" --format oci --base "$T/tiny" --out "$T/m" --hostile escape-member 2> "$T/mkimage.err" ||
        fail "mkimage: $(tail -n 1 "$T/mkimage.err")"
    import "$T/m" "$T/mdest"
    local c
    c=$(controls "$T/import.err")
    check member_escaped "keel import printed the member's name raw (control bytes ${c:-none}; status $IRC): $(head -c 300 "$T/import.err" | od -c | head -n 4)" \
        eval '[ "$IRC" != 0 ] && [ -z "$c" ] && grep -qF "\\x1b]2;owned\\x07/../../esc" "$T/import.err"'
    "$MKIMAGE" --format oci --base "$T/tiny" --out "$T/c" --hostile escape-config 2> "$T/mkimage.err" ||
        fail "mkimage: $(tail -n 1 "$T/mkimage.err")"
    import "$T/c" "$T/cdest"
    c=$(controls "$T/import.err")
    check config_refused "a config Env with an escape sequence was not refused (status $IRC, control bytes ${c:-none}): $(head -c 300 "$T/import.err")" \
        eval '[ "$IRC" != 0 ] && [ -z "$c" ] && grep -q "Env holds a value that is not a one-line string without control characters" "$T/import.err" &&
              [ -z "$(ls "$T/cdest"/*.image 2>/dev/null)" ]'
    # A config value longer than a .image line may be: refused before any
    # layer, not written into a .image nobody can load (before: imported,
    # then keel check and keel run refused the .image).
    "$MKIMAGE" --format oci --base "$T/tiny" --out "$T/long" --hostile long-env 2> "$T/mkimage.err" ||
        fail "mkimage: $(tail -n 1 "$T/mkimage.err")"
    import "$T/long" "$T/ldest"
    check long_config_refused "a 70,000-byte Env value was not refused before the layers (status $IRC): $(head -c 300 "$T/import.err")" \
        eval '[ "$IRC" != 0 ] && grep -q "the image config cannot be kept in a .image" "$T/import.err" && [ ! -e "$T/ldest" ]'
}

# An OCI layout directory is often unpacked from a tar by root, so what
# sits under a name its JSON gives may be a FIFO or a device node: looked at
# before it is opened (a FIFO's open never returns; a device's open has the
# device's side effects, a watchdog's arms it).  A layer blob that is a
# FIFO, a config blob that is a character device (1:0, a minor the mem
# driver does not have: an open fails with ENXIO, so one shows in the
# message): each refused as not a regular file, at once, unopened.
test_layout_special() {
    plan fifo_blob_refused device_blob_refused
    mkdir -p "$T/tiny/etc"
    echo tiny > "$T/tiny/etc/tiny"
    local kind blob
    for kind in fifo device; do
        rm -rf "$T/l"
        "$MKIMAGE" --format oci --base "$T/tiny" --out "$T/l" 2> "$T/mkimage.err" || fail "mkimage: $(tail -n 1 "$T/mkimage.err")"
        # The manifest's config digest, or its first layer's.
        blob=$(python3 - "$T/l" "$kind" <<'PY'
import json, sys
d = sys.argv[1]
idx = json.load(open(d + "/index.json"))
man = json.load(open(d + "/blobs/sha256/" + idx["manifests"][0]["digest"][7:]))
print((man["config"] if sys.argv[2] == "device" else man["layers"][0])["digest"][7:])
PY
)
        [ -f "$T/l/blobs/sha256/$blob" ] || fail "no blob $blob in the layout"
        rm -f "$T/l/blobs/sha256/$blob"
        if [ "$kind" = fifo ]; then mkfifo "$T/l/blobs/sha256/$blob"; else mknod "$T/l/blobs/sha256/$blob" c 1 0; fi
        timeout -k 2 $((20 * SLOW)) "$KEEL" import "$T/l" "$T/dest-$kind" > "$T/import.out" 2> "$T/import.err"
        IRC=$?
        check "${kind}_blob_refused" "a $kind as blob $blob: status $IRC (124: keel import waited), $(head -c 300 "$T/import.err")" \
            eval '[ "$IRC" = 1 ] && grep -q "blobs/sha256/$blob in the image is not a regular file" "$T/import.err"'
    done
}

# A multi-platform image (mkimage --platforms: a nested index, as docker
# buildx writes one), its arm64 entry listed first: keel takes this build's
# own platform's manifest (linux/amd64 on x86-64), --platform another's; an
# index with neither is refused with the platforms it has, not imported as
# its first entry; a docker save tar whose config is another platform's is
# refused too.  Each image's top layer holds /etc/platform.
test_platform() {
    plan native_taken other_taken none_refused config_refused config_other_ok bad_platform
    local native
    case $(uname -m) in
        x86_64) native=linux/amd64 ;;
        aarch64) native=linux/arm64/v8 ;;
        *) fail "no keel build for $(uname -m)" ;;
    esac
    mkdir -p "$T/tiny/etc"
    echo tiny > "$T/tiny/etc/tiny"
    # top_platform DEST: /etc/platform of the top layer of DEST/app.image.
    top_platform() {
        local top
        top=$(sed -nE "s/^layer = '(layers\/[^']*)'$/\1/p" "$1/app.image" 2>/dev/null | head -n 1)
        cat "$1/${top:-none}/etc/platform" 2>/dev/null
    }
    "$MKIMAGE" --format oci --base "$T/tiny" --out "$T/multi" --platforms linux/arm64/v8,linux/amd64,linux/s390x \
        2> "$T/mkimage.err" || fail "mkimage: $(tail -n 1 "$T/mkimage.err")"
    import "$T/multi" "$T/d1"
    check native_taken "this build's platform ($native) was not the one imported (status $IRC: $(cat "$T/import.err"))" \
        eq "$(top_platform "$T/d1")" "$native"
    local other=linux/arm64/v8
    [ "$native" = linux/amd64 ] || other=linux/amd64
    import --platform "$other" "$T/multi" "$T/d2"
    check other_taken "--platform $other was not the one imported (status $IRC: $(cat "$T/import.err"))" \
        eq "$(top_platform "$T/d2")" "$other"
    "$MKIMAGE" --format oci --base "$T/tiny" --out "$T/other" --platforms linux/s390x,linux/ppc64le \
        2> "$T/mkimage.err" || fail "mkimage: $(tail -n 1 "$T/mkimage.err")"
    import "$T/other" "$T/d3"
    check none_refused "an image without this build's platform was not refused naming its platforms" \
        eval '[ "$IRC" = 1 ] && [ ! -e "$T/d3/app.image" ] &&
              grep -qF "no ${native%/v8} manifest, only linux/s390x, linux/ppc64le" "$T/import.err"'
    "$MKIMAGE" --format docker --base "$T/tiny" --out "$T/s390x.tar" --platforms linux/s390x \
        2> "$T/mkimage.err" || fail "mkimage: $(tail -n 1 "$T/mkimage.err")"
    import "$T/s390x.tar" "$T/d4"
    check config_refused "a docker save tar of another platform was not refused" \
        eval '[ "$IRC" = 1 ] && [ ! -e "$T/d4/app.image" ] &&
              grep -qF "the image is for linux/s390x, not ${native%/v8}" "$T/import.err"'
    import --platform linux/s390x "$T/s390x.tar" "$T/d5"
    check config_other_ok "--platform linux/s390x did not import the s390x image: $(cat "$T/import.err")" \
        eq "$(top_platform "$T/d5")" linux/s390x
    import --platform linux "$T/multi" "$T/d6"
    check bad_platform "--platform linux was not refused as a usage error" \
        eval '[ "$IRC" = 2 ] && grep -qF "is not a platform OS/ARCH[/VARIANT]" "$T/import.err"'
}

# A refused import leaves DEST as it found it (docs/images.md): a fresh
# DEST, and the parents the import made for it, are gone again; an existing
# DEST keeps exactly the file it had, also when the refusal comes after two
# layers were extracted (a digest mismatch in the third).  While another
# import holds DEST/layers (flock -s, as a running import does) the layers
# are left: that import may be reusing them; so is one that a .image in
# DEST names.
test_refused() {
    plan fresh_gone existing_kept layers_taken_back busy_layers_kept warning_escaped named_layer_kept
    mkdir -p "$T/tiny/etc" "$T/top" "$T/have" "$T/outside"
    echo tiny > "$T/tiny/etc/tiny"
    echo mine > "$T/have/file"
    "$MKIMAGE" --format oci --base "$T/tiny" --out "$T/other" --platforms linux/s390x,linux/ppc64le \
        2> "$T/mkimage.err" || fail "mkimage: $(tail -n 1 "$T/mkimage.err")"
    "$MKIMAGE" --format oci --base "$T/tiny" --out "$T/h" --hostile digest --outside "$T/outside" \
        2> "$T/mkimage.err" || fail "mkimage: $(tail -n 1 "$T/mkimage.err")"
    import "$T/other" "$T/top/new/dest"
    check fresh_gone "a refused import into a fresh DEST left $(cd "$T/top" && find . -mindepth 1 | head -n 5) (status $IRC)" \
        eval '[ "$IRC" = 1 ] && [ -z "$(ls -A "$T/top")" ]'
    import "$T/other" "$T/have"
    check existing_kept "a refused import into an existing DEST left $(ls -A "$T/have" | tr '\n' ' ')(status $IRC)" \
        eval '[ "$IRC" = 1 ] && [ "$(ls -A "$T/have")" = file ] && [ "$(cat "$T/have/file")" = mine ]'
    import "$T/h" "$T/have"
    check layers_taken_back "an import refused at its third layer left $(ls -A "$T/have" "$T/have/layers" 2>/dev/null | tr '\n' ' ') (status $IRC)" \
        eval '[ "$IRC" = 1 ] && grep -q "does not match its digest" "$T/import.err" && [ "$(ls -A "$T/have")" = file ]'
    mkdir -m 700 "$T/have/layers"
    flock -s "$T/have/layers" timeout -k 2 $((60 * SLOW)) "$KEEL" import "$T/h" "$T/have" > "$T/import.out" 2> "$T/import.err"
    IRC=$?
    check busy_layers_kept "with DEST/layers held, the layers were not left with a warning: $(ls -A "$T/have/layers") (status $IRC)" \
        eval '[ "$IRC" = 1 ] && [ "$(ls -A "$T/have/layers" | grep -c "^sha256-")" = 2 ] && grep -q "another import" "$T/import.err"'
    # Every warning is escaped whole, as the error is (a removal's error
    # may quote a member's path): here a DEST with an escape sequence in
    # its name, in the "another import" warning.  Before, ESC went out raw.
    local odd esc want='odd\x1b]2;t\x07 is running'
    esc=$(printf '\033')
    odd="$T/odd${esc}]2;t$(printf '\007')"
    mkdir -p "$odd/layers" && chmod 700 "$odd/layers"
    flock -s "$odd/layers" timeout -k 2 $((60 * SLOW)) "$KEEL" import "$T/h" "$odd" > "$T/import.out" 2> "$T/import.err"
    IRC=$?
    check warning_escaped "keel import's warning quoted DEST raw (status $IRC): $(head -c 300 "$T/import.err" | od -c | head -n 4)" \
        eval '[ "$IRC" = 1 ] && grep -qF "$want" "$T/import.err" && ! grep -q "$esc" "$T/import.err"'
    # A layer it extracted that a .image in DEST names (an import that
    # reused it while this one ran) stays; the other goes.
    "$MKIMAGE" --format oci --base "$T/tiny" --out "$T/good" 2> "$T/mkimage.err" || fail "mkimage: $(tail -n 1 "$T/mkimage.err")"
    import "$T/good" "$T/g"
    require "the good image does not import: $(cat "$T/import.err")" eq "$IRC" 0
    local bottom
    bottom=$(sed -nE "s/^layer = '(layers\/)?([^']*)'$/\2/p" "$T/g/app.image" | tail -n 1)
    mkdir "$T/named"
    printf "layer = 'layers/%s'\n" "$bottom" > "$T/named/other.image"
    import "$T/h" "$T/named"
    check named_layer_kept "the layer named by other.image ($bottom) is not the only one left: $(ls -A "$T/named/layers" 2>&1 | tr '\n' ' ')(status $IRC)" \
        eval '[ "$IRC" = 1 ] && [ "$(ls -A "$T/named/layers")" = "$bottom" ] && [ "$(ls -A "$T/named")" = "layers
other.image" ]'
}

# --erofs: every layer also as an erofs image (mkfs.erofs), listed by the
# .image; the whiteout and the opaque mark survive into the image file.
test_erofs() {
    plan erofs_imported erofs_listed erofs_whiteout erofs_opaque
    command -v mkfs.erofs > /dev/null || fail "mkfs.erofs is missing (erofs-utils, make deps)"
    mkimg oci "$T/oci"
    import --erofs "$T/oci" "$T/dest"
    require "import --erofs failed: $(cat "$T/import.err")" eq "$IRC" 0
    local -a L
    mapfile -t L < <(sed -nE "s/^layer = '(layers\/[^']*)'$/\1/p" "$T/dest/app.image")
    local ok=1 f
    for f in "${L[@]}"; do
        case $f in *.erofs) [ -f "$T/dest/$f" ] || ok=0 ;; *) ok=0 ;; esac
    done
    check erofs_imported "the .erofs files are missing" eq "$ok" 1
    check erofs_listed "the .image does not list three .erofs layers (${L[*]})" eq "${#L[@]}" 3
    # L[1] is layer 2 (top first): the whiteout and the opaque /opq.
    dump.erofs --path=/etc/gone "$T/dest/${L[1]}" > "$T/gone" 2>&1
    check erofs_whiteout "/etc/gone is not a char device in the erofs layer" grep_in 'char dev' "$T/gone"
    dump.erofs --path=/opq "$T/dest/${L[1]}" > "$T/opq" 2>&1
    check erofs_opaque "/opq has no xattr in the erofs layer" grep_in 'Xattr size: [1-9]' "$T/opq"
}

# A Debian minbase (debootstrap) packed as docker save output, imported and
# run.  debootstrap needs Debian's archive: skipped with the reason only when
# it is unreachable.  The image is cached in build/cache (debootstrap costs
# about 80 s on the 2-core build machine; the cached run a few seconds).
test_debian() {
    plan debian_imported debian_runs debian_hardlinks
    # The cache is keyed by mkimage's content: a changed image script rebuilds it.
    local key cache mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
    key=$(sha256sum < "$MKIMAGE" | cut -c1-12)
    cache=$REPO/build/cache/debian-bookworm-minbase-$key.tar
    if [ ! -s "$cache" ]; then
        if ! timeout 15 curl -sfI "$mirror/dists/bookworm/Release" > /dev/null 2>&1; then
            # A skip, with its reason, never an ok.
            _DONE+=(debian_imported debian_runs debian_hardlinks)
            echo "skip - host: debian: Debian's archive ($mirror) is unreachable"
            return 0
        fi
        command -v debootstrap > /dev/null || fail "debootstrap is missing (make deps)"
        local t0=$SECONDS
        timeout $((240 * SLOW)) debootstrap --variant=minbase bookworm "$T/root" "$mirror" > "$T/debootstrap.log" 2>&1 ||
            fail "debootstrap failed: $(tail -n 3 "$T/debootstrap.log")"
        echo "# debootstrap --variant=minbase bookworm took $((SECONDS - t0)) s"
        mkdir -p "${cache%/*}"
        # A temporary name of this run's own: make check runs host and
        # host-asan side by side, and both may build the cache at once; each
        # renames a whole file into place, and removes only the caches of
        # other keys (an old mkimage's), never the one the other may be reading.
        mkimg docker "$cache.$$.tmp" --base "$T/root" --tag debian-app:latest
        local old
        for old in "$REPO"/build/cache/debian-bookworm-minbase-*.tar; do
            [ "$old" = "$cache" ] || rm -f "$old"
        done
        mv "$cache.$$.tmp" "$cache"
        rm -rf "$T/root"
    fi
    local t1=$SECONDS
    import "$cache" "$T/dest"
    check debian_imported "import of the Debian image failed: $(cat "$T/import.err")" \
        eval '[ "$IRC" = 0 ] && [ -f "$T/dest/debian-app.image" ]'
    echo "# import of the Debian image took $((SECONDS - t1)) s: $(head -n 1 "$T/import.out")"
    # Debian's root has hard links (and mkimage keeps them): they stay links.
    local base
    base=$(sed -nE "s/^layer = '(layers\/[^']*)'$/\1/p" "$T/dest/debian-app.image" | tail -n 1)
    check debian_hardlinks "no file of the Debian layer has a hard link" \
        eval '[ -n "$(find "$T/dest/$base/usr" -type f -links +1 -print -quit)" ]'
    manifest <<EOF
$(system_section)
[container deb]
image = $T/dest/debian-app
EOF
    keel_start
    wait_out deb DONE=yes 30 || fail "the Debian container did not finish ($WHY)"
    keel_wait || fail "keel did not exit ($WHY)"
    check debian_runs "the Debian container's values" \
        eval '[ -n "$(c_value deb DEBIAN)" ] && [ "$(c_value deb ID)" = 1000:1000 ] && [ "$(c_value deb GONE)" = absent ] &&
              [ "$(c_value deb OPQ)" = new ] && [ "$(c_value deb MODE)" = 4755 ] && [ "$(c_value deb LAYER)" = three ]'
}

run_tests "$@"
