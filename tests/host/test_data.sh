#!/bin/bash
# test_data.sh — a container's data from the manifest: `secret =` and `env_file =`.
#   secrets   each secret's content is at its target with the owner and mode
#             asked for (default 0:0 0400; with userns, the container's ids),
#             read-only; never in the container's environment, keel's output
#             and log files, `keel ps --json`, `keel status --json` or the plan,
#             each beside a positive control (an env_file variable is in the
#             environment; the container's name is in the JSON; the secret's
#             paths are in the plan)
#   env_file  a variable of the file reaches the container; an `env` line for
#             the same name wins
#   secret_symlink  a source reached through a symlink is refused, the container
#             never runs (the same file by its real path works: `secrets`);
#             keel check refuses a source that is a symlink itself
. "$(dirname "$0")/lib.sh"

SOCK() { echo "$T/keel.sock"; }
kc() { KEEL_HOST="unix://$(SOCK)" timeout $((20 * SLOW)) "$KEEL" "$@"; }

# has_prefix VALUE PREFIX
has_prefix() {
    case "$1" in "$2"*) return 0 ;; esac
    WHY="'$1' does not start with '$2'"
    return 1
}

# absent TEXT FILE...: TEXT is in none of the files (which must exist).
absent() {
    local text=$1 f
    shift
    for f in "$@"; do
        [ -e "$f" ] || { WHY="$f is missing"; return 1; }
        if grep -rqF -- "$text" "$f"; then WHY="found in $f"; return 1; fi
    done
}

test_secrets() {
    plan secret_content secret_owner_mode secret_default_owner secret_readonly secret_userns_owner \
        env_file_value env_file_env_wins secret_not_in_environ secret_not_in_logs secret_key_not_in_logs secret_not_in_json \
        secret_not_in_plan secret_plan_paths
    local db="db-$$-$RANDOM-secret" key="key-$$-$RANDOM-secret"
    printf '%s\n' "$db" > "$T/db.pass"
    printf '%s' "$key" > "$T/api.key"
    chmod 0600 "$T/db.pass" "$T/api.key"
    printf '# app settings\nAPP_MODE=file\nAPP_ONLY=from-file\n' > "$T/app.env"
    manifest <<EOF
$(system_section)
control = unix://$(SOCK)
[container c]
layers = $LAYERS/base
command = /bin/sh -c '/bin/probe stat /run/secrets/db stat /etc/api.key write /run/secrets/db env; sha256sum /run/secrets/db /etc/api.key; echo done; exec /bin/probe sleep inf'
secret = $T/db.pass:/run/secrets/db:1000:50:0440
secret = $T/api.key:/etc/api.key
env_file = $T/app.env
env = APP_MODE=env
[container u]
layers = $LAYERS/base
command = /bin/probe stat /run/secrets/db print done sleep inf
userns = auto
secret = $T/db.pass:/run/secrets/db:1000:50:0440
EOF
    keel_start
    wait_out c done || fail "c did not come up ($WHY)"
    wait_out u done || fail "u did not come up ($WHY)"
    check secret_content "the secrets' content differs from the sources" \
        eq "$(c_lines c | grep -E '^[0-9a-f]{64} ' | awk '{ print $1 }' | tr '\n' ' ')" \
        "$(sha256sum "$T/db.pass" "$T/api.key" | awk '{ print $1 }' | tr '\n' ' ')"
    check secret_owner_mode "owner or mode of /run/secrets/db" eq "$(c_value c stat:/run/secrets/db)" "file 0440 1000:50"
    check secret_default_owner "owner or mode of /etc/api.key" eq "$(c_value c stat:/etc/api.key)" "file 0400 0:0"
    check secret_readonly "the secret is writable" eq "$(c_value c write:/run/secrets/db)" EROFS
    check secret_userns_owner "owner or mode with userns" eq "$(c_value u stat:/run/secrets/db)" "file 0440 1000:50"
    check env_file_value "a variable of the env file" eq "$(c_value c env.APP_ONLY)" from-file
    check env_file_env_wins "env = APP_MODE=env did not win over the env file" eq "$(c_value c env.APP_MODE)" env
    local pid environ
    pid=$(started_pid c)
    environ=$(tr '\0' '\n' < "$(nsproc)/$pid/environ" 2>/dev/null)
    check secret_not_in_environ "the environment (APP_ONLY=from-file, the positive control, is in it)" \
        bash -c "grep -qx APP_ONLY=from-file <<<'$environ' && ! grep -qF -e '$db' -e '$key' <<<'$environ'"
    kc ps --json > "$T/ps.json" 2>&1
    kc status --json c > "$T/status.json" 2>&1
    check secret_not_in_json "keel ps/status --json (the container's name, the positive control, is in both)" \
        bash -c "grep -q '\"c\"' '$T/ps.json' && grep -q '\"c\"' '$T/status.json' &&
                 ! grep -qF -e '$db' -e '$key' '$T/ps.json' '$T/status.json'"
    keel_stop || fail "keel did not stop ($WHY)"
    # The container printed hashes, never the content: keel's own lines, the
    # container's output and the log directory hold neither secret.
    check secret_not_in_logs "keel's output or logs" absent "$db" "$ERR" "$OUT" "$T/log"
    check secret_key_not_in_logs "keel's output or logs (api key)" absent "$key" "$ERR" "$OUT" "$T/log"
    keel_check --plan "$T/keel.ini"
    check secret_plan_paths "the plan does not show the secret's paths" \
        grep_in "^  secret: $T/db.pass -> /run/secrets/db \(copied at each start" "$CHECK_OUT"
    check secret_not_in_plan "the plan" absent "$db" "$CHECK_OUT" "$CHECK_ERR"
}

test_secret_symlink() {
    plan secret_symlink_never_ran secret_symlink_reason secret_symlink_checked
    mkdir -p "$T/real"
    echo symlinked > "$T/real/pass"
    ln -s real "$T/linkdir"
    ln -s real/pass "$T/link.pass"
    # A symlink on the way: keel check cannot see it (lstat follows it), the start refuses it.
    manifest <<EOF
$(system_section)
[container bad]
layers = $LAYERS/base
command = /bin/probe print bad-ran
restart = no
secret = $T/linkdir/pass:/run/secrets/s
EOF
    keel_start
    keel_wait 30 || fail "keel did not exit ($WHY)"
    check secret_symlink_never_ran "a container with a symlinked secret ran" eq "$(c_lines bad | grep -c bad-ran)" 0
    check secret_symlink_reason "no error says the symlink is refused" \
        grep_in "bad: .*cannot open secret $T/linkdir/pass: a symlink on its path is refused" "$ERR"
    # The last component a symlink: the manifest's check refuses it already.
    manifest <<EOF
$(system_section)
[container bad]
layers = $LAYERS/base
command = /bin/probe print bad-ran
secret = $T/link.pass:/run/secrets/s
EOF
    keel_check "$T/keel.ini"
    check secret_symlink_checked "keel check does not refuse a symlink as a secret" \
        grep_in "^$T/keel.ini:7: container 'bad': secret $T/link.pass is a symlink \\(name the real path\\)$" "$CHECK_ERR"
}

run_tests "$@"
