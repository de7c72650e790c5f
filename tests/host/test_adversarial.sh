#!/bin/bash
# test_adversarial.sh — issue 8's adversarial manifest suite: broken and
# hostile manifests, each of which `keel check` must reject with exit 2 and a
# "FILE:LINE: message" at the right line, without crashing (no signal, no
# sanitizer report under KEEL_ASAN=1) or hanging (a timeout per manifest);
# and `keel run` of a broken manifest must start nothing.
#
# The manifests are generated from the tables below into the test's scratch
# directory.  A row is
#     adv NAME LINES TEXT
# NAME names the result (host: adv_NAME); TEXT is written with printf %b
# (\n, \r, \t, \xHH, \\ are escapes); LINES is the set of lines the errors may
# name: "4", "1,7", "3-9", "*" (any line), and "0" allows a message without a
# line ("FILE: message", e.g. a rule about the whole manifest).  Every
# FILE:LINE printed must be in the set and at least one must be there; with a
# leading "=" ("=4,8") every line of the set must be named.  An optional
# fourth field is an ERE that stderr must match (to tell a value read whole
# from one cut short).  adv_ok NAME TEXT is a control that must be accepted.
# Groups of rows (one value per numeric key, ...) are one result each, so the
# output stays readable; the count of manifests is printed at the end.
#
# Rules checked after parsing (cross-field ones) may name the section header
# instead of the key's line; the sets below allow both where keel does so.
#
# $C is a complete container section (3 lines) whose layer exists, so a key
# appended to it is on line 4; $S is "[system]" (1 line).
. "$(dirname "$0")/lib.sh"

ADV_TIMEOUT=${ADV_TIMEOUT:-5}     # seconds per `keel check` (times SLOW)

# ---- the checker ---------------------------------------------------------------

ADV_COUNT=0
ADV_FAILS=""

# in_set N SET: line N is allowed by SET.
in_set() {
    local n=$1 item
    local -
    set -f          # "*" is a pattern of ours, not a glob
    local IFS=,
    for item in $2; do
        case $item in
            '*') [ "$n" != 0 ] && return 0 ;;
            *-*) [ "$n" -ge "${item%-*}" ] && [ "$n" -le "${item#*-}" ] && return 0 ;;
            *) [ "$n" = "$item" ] && return 0 ;;
        esac
    done
    return 1
}

# adv_file FILE LINES [ARGS...]: runs `keel check ARGS FILE` and judges it;
# returns 1 with ADV_WHY set when it misbehaved.
adv_file() {
    local f=$1 set=$2 ere=${3:-} rc out err all=0
    [ "${set:0:1}" = "=" ] && { all=1; set=${set:1}; }
    out=$f.out
    err=$f.err
    ADV_COUNT=$((ADV_COUNT + 1))
    timeout -k 2 $((ADV_TIMEOUT * SLOW)) "$KEEL" check "$f" > "$out" 2> "$err"
    rc=$?
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        ADV_WHY="keel check hung (killed after $((ADV_TIMEOUT * SLOW)) s)"
        return 1
    fi
    if [ "$rc" -gt 128 ]; then
        ADV_WHY="keel check was killed by signal $((rc - 128))"
        return 1
    fi
    # Under KEEL_ASAN=1, lib.sh points the sanitizers' log_path at $T/asan.*.
    local rep
    rep=$(grep -lE 'ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: (Address|Undefined|Leak)' \
          "$err" "$T"/asan.* 2>/dev/null | head -n 1)
    if [ -n "$rep" ]; then
        ADV_WHY="sanitizer report: $(grep -m1 -E 'ERROR|runtime error' "$rep")"
        [ "$rep" != "$err" ] && mv "$rep" "$rep.seen"   # blame the next report on its own manifest
        return 1
    fi
    if [ "$rc" != 2 ]; then
        ADV_WHY="exit status $rc, expected 2; stderr: $(head -c 300 "$err" | head -n 2 | tr '\n' ' ')"
        return 1
    fi
    # Every stderr line is "FILE:LINE: message", "FILE: message" or keel's
    # closing count; at least one names an allowed line, none another line.
    local line n hit=0 bad=""
    while IFS= read -r line; do
        case $line in
            "$f:"[0-9]*)
                n=${line#"$f:"}
                n=${n%%:*}
                case $n in *[!0-9]*) bad="malformed: $line"; break ;; esac
                if in_set "$n" "$set"; then hit=1; else bad="line $n not in {$set}: ${line#"$f:"}"; break; fi ;;
            "$f: "*)
                if in_set 0 "$set"; then hit=1; else bad="message without a line: ${line#"$f"}"; break; fi ;;
            "keel: "*" error"*" in $f") ;;
            *) bad="unexpected stderr line: ${line:0:200}"; break ;;
        esac
    done < "$err"
    if [ -n "$bad" ]; then
        ADV_WHY=$bad
        return 1
    fi
    if [ "$hit" = 0 ]; then
        ADV_WHY="no FILE:LINE message at {$set}; stderr: $(head -c 300 "$err" | tr '\n' ' ')"
        return 1
    fi
    if [ "$all" = 1 ]; then
        local item
        local -
        set -f
        local IFS=,
        for item in $set; do
            if ! grep -q "^$f:$item: " "$err"; then
                ADV_WHY="no message names line $item"
                return 1
            fi
        done
        unset IFS
    fi
    if [ -n "$ere" ] && ! grep -qE -- "$ere" "$err"; then
        ADV_WHY="no message matches /$ere/; stderr: $(head -c 300 "$err" | tr '\n' ' ')"
        return 1
    fi
    if [ -s "$out" ]; then
        ADV_WHY="a rejected manifest printed a summary on stdout"
        return 1
    fi
    return 0
}

# Results are reported after the tables are built (plan needs every name).
ADV_NAMES=()
ADV_RESULT=()
adv_result() {   # NAME OK|WHY
    ADV_NAMES+=("adv_$1")
    ADV_RESULT+=("$2")
}

# adv NAME LINES TEXT [ERE]: one manifest from a printf %b text.
adv() {
    local name=$1 set=$2 f=$T/m/$1.ini
    printf '%b' "$3" > "$f"
    if adv_file "$f" "$set" "${4:-}"; then adv_result "$name" OK; else adv_result "$name" "$ADV_WHY"; fi
}

# adv_ok NAME TEXT: a control next to the hostile cases: this one is valid.
adv_ok() {
    local f=$T/m/$1.ini rc
    printf '%b' "$2" > "$f"
    ADV_COUNT=$((ADV_COUNT + 1))
    timeout -k 2 $((ADV_TIMEOUT * SLOW)) "$KEEL" check "$f" > "$f.out" 2> "$f.err"
    rc=$?
    if [ "$rc" = 0 ]; then adv_result "$1" OK
    else adv_result "$1" "a valid manifest was rejected (exit status $rc): $(head -c 300 "$f.err" | tr '\n' ' ')"; fi
}

# adv_group NAME: starts a group of manifests reported as one result;
# adv_in_group LINES TEXT adds one; adv_end_group reports.
ADV_GROUP=""
ADV_GROUP_WHY=""
ADV_GROUP_N=0
adv_group() { ADV_GROUP=$1; ADV_GROUP_WHY=""; ADV_GROUP_N=0; }
adv_in_group() {
    ADV_GROUP_N=$((ADV_GROUP_N + 1))
    local f=$T/m/$ADV_GROUP.$ADV_GROUP_N.ini
    printf '%b' "$2" > "$f"
    if ! adv_file "$f" "$1"; then
        [ -z "$ADV_GROUP_WHY" ] && ADV_GROUP_WHY="manifest $ADV_GROUP_N ($(printf '%b' "$2" | tail -n 1 | head -c 80)): $ADV_WHY"
    fi
}
adv_end_group() {
    adv_result "$ADV_GROUP" "${ADV_GROUP_WHY:-OK}"
}

adv_report() {
    plan "${ADV_NAMES[@]}"
    local i
    for i in "${!ADV_NAMES[@]}"; do
        if [ "${ADV_RESULT[$i]}" = OK ]; then ok "${ADV_NAMES[$i]}"; else not_ok "${ADV_NAMES[$i]}" "${ADV_RESULT[$i]}"; fi
    done
    echo "# $ADV_COUNT manifests checked"
}

adv_setup() {
    mkdir -p "$T/m" "$T/l" "$T/l2"
    L=$T/l
    S='[system]\n'
    C="[container c]\nlayers = $L\ncommand = /bin/true\n"
}

# rep N STRING: STRING repeated N times (no % or \ in STRING).
rep() {
    if [ "${#2}" = 1 ]; then head -c "$1" /dev/zero | tr '\0' "$2"
    else awk -v n="$1" -v s="$2" 'BEGIN { for (i = 0; i < n; i++) printf "%s", s }'; fi
}

# ---- lines, bytes and encodings ---------------------------------------------------

test_adversarial_text() {
    adv_setup
    local long
    # Past inih's 200-byte line buffer: the bad part is after byte 200, so a
    # truncating parser would accept the line.
    long=$(rep 30 '+CAP_CHOWN ')
    adv caps_330_bad_tail 4 "${C}capabilities = $long+CAP_BOGUS\n" BOGUS
    adv nul_after_byte_300 4 "${C}env = A=$(rep 300 v)\x00\n"
    adv layers_300_relative_tail 2 "[container c]\nlayers = $L:/$(rep 250 b):relative\ncommand = /bin/true\n" relative
    adv command_300_unterminated 3 "[container c]\nlayers = $L\ncommand = /bin/echo $(rep 250 x) \"open\n" quote
    adv env_300_then_bad_key 5 "${C}env = A=$(rep 300 v)\nbogus = 1\n"
    # Past keel's own limit of 4000 bytes.
    adv line_4001 4 "${C}env = A=$(rep 3993 v)\n"
    # Exactly 4000 bytes: accepted whole (control), or rejected for its last word.
    adv_ok line_4000_valid "${C}env = A=$(rep 3992 v)\n"
    adv line_4000_bad_tail 4 "${C}capabilities = $(rep 361 '+CAP_CHOWN ')    +CAP_BOGUS\n" BOGUS
    adv depends_300_unknown_tail 4 "${C}depends = $(rep 40 'd ')ghost\n[container d]\nlayers = $L\ncommand = /bin/true\n" ghost
    adv line_100k 4 "${C}env = A=$(rep 100000 v)\n"
    adv line_900k_no_newline 1 "$(rep 900000 z)"
    adv comment_5000 4 "${C}; $(rep 5000 c)\n"
    adv header_5000 1 "[container $(rep 5000 n)]\n"
    # Section names past inih's 50 bytes and keel's name limits.
    adv section_name_51 1 "[container $(rep 51 n)]\nlayers = $L\ncommand = /bin/true\n"
    adv section_name_33 1 "[container $(rep 33 n)]\nlayers = $L\ncommand = /bin/true\n"
    adv network_name_16 1 "[network $(rep 16 n)]\nsubnet = 10.1.0.0/24\n"
    adv interface_name_16 1 "[interface $(rep 16 e)]\n"
    adv section_kind_200 1 "[$(rep 200 k) x]\n"
    # NUL bytes.
    adv nul_in_value 4 "${C}hostname = we\x00b\n"
    adv nul_in_key 4 "${C}host\x00name = web\n"
    adv nul_in_header 1-3 "[container c\x00d]\nlayers = $L\ncommand = /bin/true\n"
    adv nul_first_byte 1 "\x00[system]\n"
    adv nul_only 1 "\x00\x00\x00\x00\n"
    adv nul_in_comment 4 "${C}; a comment \x00 with a NUL\n"
    adv nul_after_last_newline 4 "${C}\x00"
    # Invalid UTF-8.
    adv utf8_ff 4 "${C}hostname = \xff\n"
    adv utf8_overlong_slash 4 "${C}workdir = /a\xc0\xafb\n"
    adv utf8_surrogate 4 "${C}env = A=\xed\xa0\x80\n"
    adv utf8_above_10ffff 4 "${C}env = A=\xf4\x90\x80\x80\n"
    adv utf8_truncated_at_eof 4 "${C}env = A=\xe2\x82"
    adv utf8_lone_continuation 2 "[system]\nhostname = a\x80b\n"
    adv utf8_in_comment 4 "${C}; caf\xe9\n"
    adv utf16_bom 1 "\xff\xfe[\x00s\x00y\x00s\x00]\x00\n"
    adv latin1_header 1 "[container caf\xe9]\n"
    # Control characters, CR and LF.
    adv cr_inside_line 4 "${C}command = /bin/true\rbogus = 1\n"
    adv cr_only_line_endings 1 "[container c]\rlayers = $L\rcommand = /bin/true\rbogus = 1\r"
    adv crlf_then_bad_key 4 "[container c]\r\nlayers = $L\r\ncommand = /bin/true\r\nbogus = 1\r\n"
    adv crlf_mixed_bad_key 7 "[system]\r\nhostname = a\n\r\n${C}bogus = 1\r\n"
    adv lfcr_line_start 5 "${C}\n\rbogus = 1\n"
    adv escape_sequence 4 "${C}env = A=\x1b[31mred\n"
    adv form_feed 4 "${C}\x0c\n"
    adv vertical_tab 4 "${C}env\x0b= A=1\n"
    adv del_char_ok_but_bad_key 4 "${C}bo\x7fgus = 1\n"
    # Byte order marks.
    adv bom_twice 1 "\xef\xbb\xbf\xef\xbb\xbf[system]\n"
    adv bom_mid_line 4 "${C}\xef\xbb\xbfuser = 1\n"
    adv bom_in_header 1 "[\xef\xbb\xbfsystem]\n"
    adv bom_only_then_bad 2 "\xef\xbb\xbf\nbogus = 1\n"
    adv_ok bom_at_start_crlf "\xef\xbb\xbf[container c]\r\nlayers = $L\r\ncommand = /bin/true\r\n"
    adv_report
}

# ---- structure: sections, keys, duplicates ---------------------------------------

test_adversarial_structure() {
    adv_setup
    adv key_outside_section 1 "hostname = a\n[system]\n"
    adv key_before_system 2 "; comment\nstop_timeout = 1\n[system]\n"
    adv header_unclosed 1 "[container c\nlayers = $L\ncommand = /bin/true\n"
    adv header_unclosed_at_eof 4 "${C}[container d"
    adv header_open_only 1 "[\n"
    adv header_empty 1 "[]\n"
    adv header_blank 1 "[   ]\n"
    adv header_no_name 1 "[container]\nlayers = $L\ncommand = /bin/true\n"
    adv header_three_words 1 "[container a b]\nlayers = $L\ncommand = /bin/true\n"
    adv header_trailing_text 1 "[container c] extra\nlayers = $L\ncommand = /bin/true\n"
    adv header_unknown_kind 1 "[service c]\n"
    adv header_case 1 "[System]\n"
    adv header_nested 1 "[[system]]\n"
    adv header_name_bad_chars 1 "[container c/../d]\nlayers = $L\ncommand = /bin/true\n"
    adv header_name_space_tab 1 "[container\ta\tb]\n"
    adv system_twice 3 "[system]\nhostname = a\n[system]\n"
    adv container_twice 4 "${C}[container c]\nlayers = $L\ncommand = /bin/true\n"
    adv network_twice 3 "[network n]\nsubnet = 10.1.0.0/24\n[network n]\nsubnet = 10.2.0.0/24\n"
    adv interface_twice 3 "[interface eth0]\naddress = 10.0.2.15/24\n[interface eth0]\n"
    adv truncated_container 1 "[container c]\n"
    adv truncated_mid_key 1,3 "[container c]\nlayers = $L\ncomm"
    adv truncated_after_eq 3 "[container c]\nlayers = $L\ncommand =\n"
    adv only_garbage 1 "this is not an ini file\n"
    adv colon_separator 4 "${C}user: 1\n"
    adv missing_key_name 4 "${C}= value\n"
    adv no_equals 4 "${C}command\n"
    adv duplicate_command 5 "${C}workdir = /\ncommand = /bin/false\n"
    adv duplicate_layers 4 "${C}layers = $L\n"
    adv duplicate_system_key 3 "[system]\nhostname = a\nhostname = b\n"
    adv duplicate_network_key 3 "[network n]\nsubnet = 10.1.0.0/24\nsubnet = 10.2.0.0/24\n"
    adv unknown_key_system 2 "[system]\nhostnme = a\n"
    adv unknown_key_container 4 "${C}commands = /bin/true\n"
    adv unknown_key_network 3 "[network n]\nsubnet = 10.1.0.0/24\nbridge = br0\n"
    adv unknown_key_interface 2 "[interface eth0]\nmac = 00:11:22:33:44:55\n"
    adv key_case 4 "${C}Command = /bin/true\n"
    adv key_with_space 4 "${C}stop timeout = 1\n"
    adv key_of_other_section 2 "[system]\nlayers = /\n"
    adv container_key_in_network 3 "[network n]\nsubnet = 10.1.0.0/24\ncommand = /bin/true\n"
    adv multiline_continuation 5 "${C}env = A=1\n  B=2\n"
    adv missing_layers 1 "[container c]\ncommand = /bin/true\n"
    adv missing_command 1 "[container c]\nlayers = $L\n"
    adv missing_layer_dir 2 "[container c]\nlayers = $T/does-not-exist\ncommand = /bin/true\n"
    adv layer_is_a_file 2 "[container c]\nlayers = $T/m/layer_is_a_file.ini\ncommand = /bin/true\n"
    adv mount_source_missing 4 "${C}mount = $T/nope:/data\n"
    adv two_mains 5-8 "${C}main = yes\n[container d]\nlayers = $L\ncommand = /bin/true\nmain = yes\n"
    adv bad_key_in_bad_section 1 "[bogus]\nanything = 1\nmore = 2\n"
    adv many_errors_all_lines =2,4,6 "[system]\nbogus = 1\n[container c]\nlayers = relative\ncommand = /bin/true\nuser = -1\n"
    adv_report
}

# ---- values: one bad value per key ---------------------------------------------------

test_adversarial_values() {
    adv_setup
    # [container] values, each on line 4 (or the header, line 1, for rules
    # checked after parsing).
    adv bool_maybe 4 "${C}main = maybe\n"
    adv bool_upper 4 "${C}no_new_privs = YES\n"
    adv bool_empty 4 "${C}main =\n"
    adv workdir_relative 4 "${C}workdir = www\n"
    adv workdir_empty 4 "${C}workdir =\n"
    adv layers_empty 2 "[container c]\nlayers =\ncommand = /bin/true\n"
    adv layers_colons 2 "[container c]\nlayers = :\ncommand = /bin/true\n"
    adv layers_empty_part 2 "[container c]\nlayers = $L::$T/l2\ncommand = /bin/true\n"
    adv layers_relative 2 "[container c]\nlayers = l\ncommand = /bin/true\n"
    adv upper_relative 4 "${C}upper = var/keel\n"
    adv command_empty 3 "[container c]\nlayers = $L\ncommand =    \n"
    adv command_single_quote 3 "[container c]\nlayers = $L\ncommand = /bin/echo 'a\n"
    adv command_double_quote 3 "[container c]\nlayers = $L\ncommand = /bin/echo \"a\\\\\"\n"
    adv command_backslash_end 3 "[container c]\nlayers = $L\ncommand = /bin/echo a\\\\\n"
    adv env_no_equals 4 "${C}env = NOEQUALS\n"
    adv env_empty_name 4 "${C}env = =value\n"
    adv user_trailing_colon 4 "${C}user = 1:\n"
    adv user_leading_colon 4 "${C}user = :1\n"
    adv user_negative 4 "${C}user = -1\n"
    adv user_uint32_max 4 "${C}user = 4294967295\n"
    adv user_2_32 4 "${C}user = 4294967296\n"
    adv user_hex 4 "${C}user = 0x1\n"
    adv user_gid_overflow 4 "${C}user = 1:99999999999999999999\n"
    adv user_plus 4 "${C}user = +1\n"
    adv user_two_colons 4 "${C}user = 1:2:3\n"
    adv hostname_64 4 "${C}hostname = $(rep 64 h)\n"
    adv hostname_bad_chars 4 "${C}hostname = a_b!\n"
    adv hostname_leading_dash 4 "${C}hostname = -web\n"
    adv mount_relative_source 4 "${C}mount = data:/data\n"
    adv mount_relative_target 4 "${C}mount = $L:data\n"
    adv mount_bad_mode 4 "${C}mount = $L:/data:rx\n"
    adv mount_no_target 4 "${C}mount = $L\n"
    adv mount_extra_field 4 "${C}mount = $L:/data:ro:x\n"
    adv network_unknown 4 "${C}network = wifi\n"
    adv network_container_empty 4 "${C}network = container:\n"
    adv network_container_unknown 1,4 "${C}network = container:ghost\n"
    adv network_container_self 1,4 "${C}network = container:c\n"
    adv ip_short 5 "${C}network = bridge\nip = 172.30.0\n"
    adv ip_octet_256 5 "${C}network = bridge\nip = 172.30.0.256\n"
    adv ip_with_prefix 5 "${C}network = bridge\nip = 172.30.0.5/24\n"
    adv ip_outside_subnet 1,5 "${C}network = bridge\nip = 10.9.9.9\n"
    adv ports_host_99999 5 "${C}network = bridge\nports = 99999:80\n"
    adv ports_zero 5 "${C}network = bridge\nports = 0:80\n"
    adv ports_sctp 5 "${C}network = bridge\nports = 80:80/sctp\n"
    adv ports_words 5 "${C}network = bridge\nports = a:b\n"
    adv ports_twice 4-10 "${C}network = bridge\nports = 8080:80\n[container d]\nlayers = $L\ncommand = /bin/true\nnetwork = bridge\nports = 8080:80\n"
    adv restart_unknown 4 "${C}restart = sometimes\n"
    adv restart_negative_max 4 "${C}restart = on-failure:-1\n"
    adv restart_max_overflow 4 "${C}restart = on-failure:99999999999999999999\n"
    adv restart_empty_max 4 "${C}restart = on-failure:\n"
    adv signal_unknown 4 "${C}stop_signal = SIGFOO\n"
    adv signal_zero 4 "${C}stop_signal = 0\n"
    adv signal_65 4 "${C}stop_signal = 65\n"
    adv signal_rtmin_99 4 "${C}stop_signal = RTMIN+99\n"
    adv signal_rtmax_minus_99 4 "${C}stop_signal = SIGRTMAX-99\n"
    adv signal_overflow 4 "${C}stop_signal = 18446744073709551617\n"
    adv caps_unknown 4 "${C}capabilities = +CAP_BOGUS\n"
    adv caps_sign_only 4 "${C}capabilities = +\n"
    adv caps_number 4 "${C}capabilities = +99\n"
    adv ambient_outside_caps 1,4 "${C}ambient_capabilities = CAP_SYS_ADMIN\n"
    adv seccomp_relative 4 "${C}seccomp = profiles/x\n"
    adv rlimit_soft_above_hard 4 "${C}rlimit = nofile=2:1\n"
    adv rlimit_unknown 4 "${C}rlimit = bogus=1\n"
    adv rlimit_empty 4 "${C}rlimit = nofile=\n"
    adv rlimit_overflow 4 "${C}rlimit = nofile=18446744073709551616\n"
    adv userns_two_fields 4 "${C}userns = 1:2\n"
    adv userns_zero_count 4 "${C}userns = 0:100000:0\n"
    adv userns_wraps 4 "${C}userns = 0:4294967295:2\n"
    adv cpuset_open_range 4 "${C}cpuset = 0-\n"
    adv cpuset_reversed 4 "${C}cpuset = 5-2\n"
    adv cpuset_letters 4 "${C}cpuset = a\n"
    adv cpuset_double_comma 4 "${C}cpuset = 0,,1\n"
    adv cpuset_huge 4 "${C}cpuset = 99999999999999999999\n"
    adv cpuset_above_4095 4 "${C}cpuset = 5000\n"
    adv cpuset_range_end_above_4095 4 "${C}cpuset = 0-5000\n"
    adv cpuset_list_above_4095 4 "${C}cpuset = 1,4096\n"
    adv io_no_value 4 "${C}io_read_bps = /dev/sda\n"
    adv io_relative_device 4 "${C}io_read_bps = sda 1M\n"
    adv io_bad_size 4 "${C}io_write_bps = /dev/sda 1Q\n"
    adv health_port_0 4 "${C}health = tcp:0\n"
    adv health_port_65536 4 "${C}health = tcp:65536\n"
    adv health_port_empty 4 "${C}health = tcp:\n"
    adv health_unterminated 4 "${C}health = /bin/check 'x\n"
    adv ready_fd_empty 4 "${C}ready = fd:\n"
    adv ready_fd_negative 4 "${C}ready = fd:-1\n"
    adv ready_fd_overflow 4 "${C}ready = fd:99999999999\n"
    adv ready_unknown 4 "${C}ready = maybe\n"
    adv depends_bad_condition 4 "${C}depends = d:bogus\n[container d]\nlayers = $L\ncommand = /bin/true\n"
    adv depends_healthy_without_health 4 "${C}depends = d:healthy\n[container d]\nlayers = $L\ncommand = /bin/true\n"
    adv depends_ready_without_ready 4 "${C}depends = d:ready\n[container d]\nlayers = $L\ncommand = /bin/true\n"
    adv delay_above_max 1,4,5 "${C}restart_delay = 1m\nrestart_delay_max = 1s\n"
    adv on_unhealthy_without_health 1,4 "${C}on_unhealthy = reboot\n"
    adv on_crashloop_unknown 4 "${C}on_crashloop = explode\n"
    # [system] values.
    adv sys_dns_five_octets 2 "${S}dns = 1.2.3.4.5\n"
    adv sys_sysctl_no_equals 2 "${S}sysctl = net.ipv4.ip_forward\n"
    adv sys_sysctl_dotdot 2 "${S}sysctl = ../../etc/x=1\n"
    adv sys_module_path 2 "${S}modules = ../../tmp/evil\n"
    adv sys_control_scheme 2 "${S}control = http://x\n"
    adv sys_control_tcp_no_tls 0,2 "${S}control = tcp://0.0.0.0:2376\n"
    adv sys_control_fd_letters 2 "${S}control = fd://abc\n"
    adv sys_control_vsock_overflow 2 "${S}control = vsock://99999999999\n"
    local tls='control_tls_cert = /c.pem\ncontrol_tls_key = /k.pem\ncontrol_tls_ca = /ca.pem\n'
    adv sys_control_tcp_no_port 2 "${S}control = tcp://0.0.0.0\n$tls"
    adv sys_control_tcp_port_99999 2 "${S}control = tcp://0.0.0.0:99999\n$tls"
    adv sys_on_exit_unknown 2 "${S}on_exit = explode\n"
    adv sys_on_error_stay 2 "${S}on_error = stay\n"
    adv sys_log_dir_relative 2 "${S}log_dir = log\n"
    adv sys_hostname_slash 2 "${S}hostname = web/1\n"
    # [network] and [interface] values.
    adv net_prefix_33 1,2 "[network n]\nsubnet = 10.1.0.0/33\n"
    adv net_no_prefix 1,2 "[network n]\nsubnet = 10.1.0.0\n"
    adv net_gateway_outside 1,3 "[network n]\nsubnet = 10.1.0.0/24\ngateway = 10.2.0.1\n"
    adv net_no_subnet 1 "[network n]\nmtu = 1500\n"
    adv if_address_no_prefix 2 "[interface eth0]\naddress = 10.0.2.15\n"
    adv if_gateway_bad 2 "[interface eth0]\ngateway = 10.0.2\n"
    adv_report
}

# ---- numbers: overflow and junk in every numeric key of the key table --------------

# The numeric keys come from `keel check --keys` (section, key, type), so a
# new numeric key is covered without touching this file.  Each key gets one
# manifest holding every bad value, one section per value (every one must be
# reported at its line); [system] exists once, so its keys get one manifest
# per value.
test_adversarial_numbers() {
    adv_setup
    local keys sec key type vals v i f lines covered=0
    keys=$("$KEEL" check --keys 2>/dev/null) || fail "keel check --keys failed"
    [ -n "$keys" ] || fail "keel check --keys printed nothing"
    local common=(18446744073709551616 18446744073709551615 9223372036854775808 99999999999999999999999999999999
                  1e3 0x10 +5 "5 5" 1.5.5 abc "$(rep 300 9)" "-0x1" "")
    while IFS=$'\t' read -r sec key type _; do
        case $type in
            duration) vals=(-1 1week 169h 604800001ms 10080m1 1s1 "${common[@]}") ;;
            size) vals=(-1 0 1P 9999999999999T 8388608T 1KK "${common[@]}") ;;
            'size|max') vals=(-1 1P 8388608T maxx MAX "${common[@]}") ;;
            number) vals=(-1 4294967296 "${common[@]}") ;;
            'number|max') vals=(-1 0x1 maxx "${common[@]}") ;;
            decimal) vals=(-1 0.001 4097 4096.5 0.1234567 . 1. "${common[@]}") ;;
            rate) vals=(0 -1 1tbit 1kbyte 18446744073709551615bit "${common[@]}") ;;
            [0-9-]*..[0-9]*) vals=($(( ${type%%..*} - 1 )) $(( ${type##*..} + 1 )) "${common[@]}") ;;
            *) continue ;;
        esac
        covered=$((covered + 1))
        adv_group "num_${sec}_${key}"
        if [ "$sec" = system ]; then
            for v in "${vals[@]}"; do adv_in_group 2 "[system]\n${key} = ${v}\n"; done
            adv_end_group
            continue
        fi
        f=$T/m/num_${sec}_${key}.ini
        lines=""
        i=0
        : > "$f"
        for v in "${vals[@]}"; do
            i=$((i + 1))
            case $sec in
                container) printf '[container c%d]\nlayers = %s\ncommand = /bin/true\n%s = %s\n' "$i" "$L" "$key" "$v"
                           lines="$lines,$((4 * i))" ;;
                network) printf '[network n%d]\nsubnet = 10.%d.0.0/24\n%s = %s\n' "$i" "$i" "$key" "$v"
                         lines="$lines,$((3 * i))" ;;
                interface) printf '[interface e%d]\n%s = %s\n' "$i" "$key" "$v"
                           lines="$lines,$((2 * i))" ;;
            esac >> "$f"
        done
        ADV_GROUP_N=$i
        adv_file "$f" "=${lines#,}" || ADV_GROUP_WHY=$ADV_WHY
        adv_end_group
    done <<< "$keys"
    # The key table must still hold the numeric keys this suite was written for.
    if [ "$covered" -lt 20 ]; then
        adv_result numeric_keys_covered "only $covered numeric keys in keel check --keys (expected at least 20)"
    else
        adv_result numeric_keys_covered OK
    fi
    adv_report
}

# ---- scale: many sections, deep dependencies, cycles ---------------------------------

# chain FILE N [CLOSE]: containers k1..kN, each depending on the one before
# (and k1 on kN when CLOSE is given: a cycle of N).
chain() {
    local i
    {
        for i in $(seq 1 "$2"); do
            printf '[container k%d]\nlayers = %s\ncommand = /bin/true\n' "$i" "$L"
            if [ "$i" -gt 1 ]; then printf 'depends = k%d\n' $((i - 1))
            elif [ -n "${3:-}" ]; then printf 'depends = k%d\n' "$2"; fi
        done
    } > "$1"
}

test_adversarial_scale() {
    adv_setup
    local f i n
    # 257 containers: one more than keel takes.
    f=$T/m/containers_257.ini
    for i in $(seq 1 257); do printf '[container c%d]\nlayers = %s\ncommand = /bin/true\n' "$i" "$L"; done > "$f"
    adv_file "$f" $((256 * 3 + 1)) && adv_result containers_257 OK || adv_result containers_257 "$ADV_WHY"
    # 5000 networks without subnets: 5000 errors, in time.
    f=$T/m/networks_5000.ini
    for i in $(seq 1 5000); do printf '[network n%d]\n' "$i"; done > "$f"
    adv_file "$f" 1-5000 && adv_result networks_5000 OK || adv_result networks_5000 "$ADV_WHY"
    # 10000 [system] headers.
    f=$T/m/system_10000.ini
    for i in $(seq 1 10000); do printf '[system]\n'; done > "$f"
    adv_file "$f" 2-10000 && adv_result system_10000 OK || adv_result system_10000 "$ADV_WHY"
    # 50000 comment lines, then a bad key: the line count is exact.
    f=$T/m/comments_50000.ini
    { printf "$C"; for i in $(seq 1 50000); do echo "; comment $i"; done; echo "bogus = 1"; } > "$f"
    adv_file "$f" 50004 && adv_result comments_50000 OK || adv_result comments_50000 "$ADV_WHY"
    # Just under 1 MiB of env lines (repeatable): keel takes at most 1024
    # values of one key per section and says so at the first one too many.
    f=$T/m/env_85000.ini
    { printf "$C"; seq -f 'env=A%.0f=' 1 85000; echo "env = BAD"; } > "$f"
    adv_file "$f" 1028 && adv_result env_85000 OK || adv_result env_85000 "$ADV_WHY"
    # Just under 1 MiB of broken headers: 500000 errors, in time.
    f=$T/m/headers_500000.ini
    yes '[' | head -n 500000 > "$f"
    adv_file "$f" 1-500000 && adv_result headers_500000 OK || adv_result headers_500000 "$ADV_WHY"
    # Just under 1 MiB of blank lines, then a bad key.
    f=$T/m/blank_lines.ini
    { printf "$C"; head -c 1000000 /dev/zero | tr '\0' '\n'; echo "bogus = 1"; } > "$f"
    adv_file "$f" 1000004 && adv_result blank_lines_1m OK || adv_result blank_lines_1m "$ADV_WHY"
    # Over 1 MiB: not read at all; exit 2 with "FILE: message" (or 1 with one
    # "keel: error:" line: an unreadable file), never a crash.
    f=$T/m/over_1mib.ini
    { printf "$C"; head -c 1100000 /dev/zero | tr '\0' ';'; } > "$f"
    timeout -k 2 $((ADV_TIMEOUT * SLOW)) "$KEEL" check "$f" > "$f.out" 2> "$f.err"
    n=$?
    ADV_COUNT=$((ADV_COUNT + 1))
    if { [ "$n" = 2 ] && grep -q "^$f: " "$f.err"; } || { [ "$n" = 1 ] && grep -q '^keel: error: ' "$f.err"; }; then
        adv_result over_1mib OK
    else
        adv_result over_1mib "exit status $n; stderr: $(head -c 200 "$f.err")"
    fi
    # A dependency chain of 256 containers is fine; closing it is a cycle
    # reported on the depends lines (or headers) of its members.
    f=$T/m/chain_256.ini
    chain "$f" 256
    timeout -k 2 $((ADV_TIMEOUT * SLOW)) "$KEEL" check "$f" > "$f.out" 2> "$f.err"
    n=$?
    ADV_COUNT=$((ADV_COUNT + 1))
    [ "$n" = 0 ] && adv_result chain_256_valid OK || adv_result chain_256_valid "exit status $n: $(head -c 200 "$f.err")"
    f=$T/m/cycle_256.ini
    chain "$f" 256 close
    adv_file "$f" '*' && adv_result cycle_256 OK || adv_result cycle_256 "$ADV_WHY"
    # The cycle's messages name every member.
    if [ "$(grep -c 'dependency cycle' "$f.err")" -ge 256 ]; then adv_result cycle_256_names_all OK
    else adv_result cycle_256_names_all "$(grep -c 'dependency cycle' "$f.err") cycle messages, expected 256"; fi
    # A chain ending in an unknown container.
    f=$T/m/chain_unknown.ini
    chain "$f" 200
    printf '[container tail]\nlayers = %s\ncommand = /bin/true\ndepends = k200 ghost\n' "$L" >> "$f"
    n=$(wc -l < "$f")
    adv_file "$f" "$n" && adv_result chain_unknown_tail OK || adv_result chain_unknown_tail "$ADV_WHY"
    # Self, two-cycle, three-cycle through network = container:NAME.
    adv depends_self 4 "${C}depends = c\n"
    adv cycle_two =4,8 "${C}depends = d\n[container d]\nlayers = $L\ncommand = /bin/true\ndepends = c\n"
    adv cycle_via_netns 1,4,5,8,9 "${C}depends = d\n[container d]\nlayers = $L\ncommand = /bin/true\nnetwork = container:c\n"
    adv depends_unknown_many 4 "${C}depends = $(for i in $(seq 1 400); do printf 'x%d ' "$i"; done)\n"
    # One 3.8 KB line naming the same container 1900 times: each duplicate
    # reported (once or per pair), in time.
    adv depends_same_1900 4 "${C}depends = $(rep 1900 'd ')\n[container d]\nlayers = $L\ncommand = /bin/true\n"
    adv depends_twice 4 "${C}depends = d d\n[container d]\nlayers = $L\ncommand = /bin/true\n"
    adv depends_line_4000 4 "${C}depends = $(rep 4000 d)\n"
    adv_report
}

# ---- keel run: nothing of a broken manifest is applied ------------------------------

test_adversarial_run_starts_nothing() {
    plan run_bad_tail run_cycle run_nul
    mkdir -p "$T/m"
    local name bad
    for name in run_bad_tail run_cycle run_nul; do
        case $name in
            run_bad_tail) bad='bogus = 1\n' ;;
            run_cycle) bad='depends = b\n' ;;
            run_nul) bad='env = A=\x00\n' ;;
        esac
        {
            system_section
            printf '[container a]\nlayers = %s\ncommand = /bin/probe print started sleep inf\nrestart = always\n' "$LAYERS/base"
            printf '%b' "$bad"
            printf '[container b]\nlayers = %s\ncommand = /bin/probe print started sleep inf\ndepends = a\n' "$LAYERS/base"
        } > "$T/m/$name.ini"
        keel_start "$T/m/$name.ini"
        if ! keel_wait 10; then
            keel_kill
            not_ok "$name" "keel run did not exit on a broken manifest"
            continue
        fi
        if [ "$KRC" = 0 ] || [ "$KRC" -gt 128 ]; then
            not_ok "$name" "keel run exited with status $KRC on a broken manifest"
        elif grep -qE "$(klog '[^ ]+: (started|failed)')" "$ERR" || grep -q '|' "$OUT"; then
            not_ok "$name" "keel run started a container of a broken manifest"
        elif ! grep -qE "$T/m/$name.ini:[0-9]+: " "$ERR"; then
            not_ok "$name" "keel run did not say FILE:LINE what is wrong"
        elif [ -s "$T/leftover" ]; then
            not_ok "$name" "processes left behind: $(head -n 3 "$T/leftover" | tr '\n' ' ')"
        else
            ok "$name"
        fi
    done
}

run_tests "$@"
