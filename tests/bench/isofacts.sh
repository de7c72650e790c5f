# shellcheck shell=bash
# isofacts.sh — sourced by tests/bench/isocheck and isocheck-boot: what a
# container's command prints about its isolation, and the comparison of a
# keel container's facts with a floor's.
#
#   iso_facts          a shell command line (one line: a manifest's command is
#                      one line): /proc/self/mountinfo, "===", then the process
#                      facts (capabilities, no_new_privs, seccomp, /dev, the /etc
#                      files, host name, nofile limits, session, fds, cgroup,
#                      links, namespaces)
#   iso_compare DIR FLOOR N   compares DIR/keel with DIR/floor (each the
#                      command's output), printing the differences; the floor's
#                      name FLOOR for the messages; status 1 on any difference
#                      but the /etc files' sources (keel binds its live copies of
#                      /etc/hosts and /etc/resolv.conf from its run directory,
#                      the floors all from their stage) or when either side has
#                      not N of them (3; 2 at boot without an uplink: no
#                      resolv.conf), 2 when a side printed no mountinfo

iso_facts='cat /proc/self/mountinfo; echo ===; grep -E "^(Cap|NoNewPrivs|Seccomp)" /proc/self/status;'
iso_facts+=' ls -la /dev /dev/pts /dev/shm /dev/mqueue /etc/hostname /etc/hosts /etc/resolv.conf |'
iso_facts+=' sed -E "s/ [A-Z][a-z][a-z] +[0-9]+ +[0-9:]+ / DATE /"; hostname; cat /etc/hostname /etc/hosts /etc/resolv.conf;'
iso_facts+=' ulimit -Sn; ulimit -Hn; cut -d" " -f4-6 /proc/self/stat; ls -1 /proc/self/fd; cat /proc/self/cgroup;'
iso_facts+=' ip link | grep -c "^[0-9]"; ls -1 /proc/self/ns'

# mountinfo: fields from the third on, the anonymous device numbers, the
# overlay's options and devtmpfs's size (the guest's free memory) out.
iso_mounts() {
    sed '/^===$/q' "$1" | sed '$d' | cut -d' ' -f3- |
        sed -E 's/^0:[0-9]+ /0:N /; s/lowerdir=[^ ]*//; s/size=[0-9]+k,nr_inodes=[0-9]+,//' | sort
}
iso_rest() { sed '1,/^===$/d' "$1"; }

iso_compare() {
    local dir=$1 floor=$2 n_etc=$3 status=0 side
    iso_mounts "$dir/keel" > "$dir/keel.mounts"
    iso_mounts "$dir/floor" > "$dir/floor.mounts"
    if [ ! -s "$dir/keel.mounts" ] || [ ! -s "$dir/floor.mounts" ]; then
        echo "isocheck: error: no mountinfo from one side" >&2
        return 2
    fi
    echo "mounts: keel $(wc -l < "$dir/keel.mounts"), $floor $(wc -l < "$dir/floor.mounts")"
    # The expected difference: the /etc files' sources.
    local etc='^0:N /[^ ]* /etc/(hostname|hosts|resolv\.conf) ro,nosuid,nodev,noexec,relatime - tmpfs tmpfs rw,mode=7[05][05](,inode64)?$'
    diff <(grep -Ev "$etc" "$dir/keel.mounts") <(grep -Ev "$etc" "$dir/floor.mounts") || status=1
    for side in keel floor; do
        [ "$(grep -Ec "$etc" "$dir/$side.mounts")" = "$n_etc" ] || { echo "isocheck: $side: not $n_etc /etc binds"; status=1; }
    done
    diff <(iso_rest "$dir/keel") <(iso_rest "$dir/floor") || status=1
    return "$status"
}
