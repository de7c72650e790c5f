/* Unit tests of manifest.c: every key, and every kind of bad input. */
#include "keel/caps.h"
#include "keel/manifest.h"
#include "keel/util.h"
#include "unit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static struct manifest *load_ok(const char *text)
{
    struct manifest *m = NULL;
    struct diag d = { 0 };
    int r = manifest_load_buffer("t.ini", text, strlen(text), MANIFEST_NO_FS_CHECKS, &m, &d);
    if (r < 0)
        for (size_t i = 0; i < d.count; i++)
            fprintf(stderr, "  unexpected: %s\n", d.msgs[i]);
    diag_free(&d);
    return m;
}

/* Loads text that must fail; returns the diagnostics joined by newlines. */
static char *load_bad(const char *text, size_t len)
{
    struct manifest *m = NULL;
    struct diag d = { 0 };
    int r = manifest_load_buffer("t.ini", text, len, MANIFEST_NO_FS_CHECKS, &m, &d);
    if (r == 0) {
        manifest_free(m);
        return NULL;
    }
    char *all = strdup("");
    for (size_t i = 0; i < d.count; i++) {
        char *n = xasprintf("%s%s\n", all, d.msgs[i]);
        free(all);
        all = n;
    }
    diag_free(&d);
    return all;
}

#define EXPECT_ERROR(text, needle) do { \
    char *e_ = load_bad(text, strlen(text)); \
    CHECK(e_ != NULL); \
    if (e_ && !strstr(e_, needle)) { \
        unit_failed_checks++; \
        fprintf(stderr, "  %s:%d: expected \"%s\" in:\n%s", __FILE__, __LINE__, needle, e_); \
    } \
    free(e_); } while (0)

#define C "[container a]\nlayers = /l\ncommand = /bin/true\n"

TEST(full_manifest)
{
    struct manifest *m = load_ok(
        "; a comment\n# another\n"
        "[system]\nhostname = appliance\nstop_timeout = 5s\nlog_dir = /var/log/keel\nlog_max_size = 2M\n"
        "log_keep = 3\nmodules = overlay veth\nmodules = bridge\nsysctl = net.ipv4.ip_forward = 1\n"
        "dns = 1.1.1.1\non_exit = reboot\non_error = shell\nrescue_shell = /bin/sh\n"
        "control = unix:///run/k.sock\ncontrol = vsock://1024\ncontrol_group = adm\n"
        "watchdog = /dev/watchdog\nwatchdog_timeout = 20s\n"
        "[interface eth0]\naddress = 10.0.2.15/24\ngateway = 10.0.2.2\nmtu = 1400\n"
        "[network net1]\nsubnet = 10.9.0.0/16\nisolate = yes\nmtu = 1400\n"
        "[container db]\nlayers = /layers/db:/layers/base\nupper = /var/lib/keel/db\n"
        "command = /bin/sh -c \"exec sleep 1000\"\nrestart = always\nready = notify\n"
        "health = tcp:5432\nhealth_interval = 2s\nhealth_retries = 2\n"
        "[container web]\nlayers = /layers/web:/layers/base\nupper = tmpfs\ncommand = /bin/httpd -f -p 80\n"
        "env = GREETING=hello\nenv = MODE=prod\nenv = MODE=test\nworkdir = /www\nuser = www\nhostname = webhost\n"
        "mount = /srv/data:/data:ro\nmount = /srv/x:/x\nnetwork = bridge\nbridge = net1\nip = 10.9.0.10\n"
        "ports = 8080:80/tcp\nports = 127.0.0.1:5353:53/udp\nnet_rate = 10mbit\nrestart = on-failure:5\n"
        "depends = db:ready\nstop_signal = SIGQUIT\nstop_timeout = 3\n"
        "capabilities = +CAP_NET_RAW -CAP_SETFCAP\nambient_capabilities = NET_BIND_SERVICE\n"
        "main = yes\nno_new_privs = no\nseccomp = unconfined\nrlimit = nofile=100:200\nrlimit = core=0\n"
        "userns = no\nmemory = 256M\nmemory_high = 200M\nmemory_swap = max\ncpus = 0.5\ncpu_weight = 200\n"
        "cpuset = 0-1\npids = 128\nio_weight = 50\nio_read_bps = /dev/vda 10M\nio_write_iops = /dev/vda 100\n"
        "oom_score_adj = 500\nrestart_delay = 50ms\nrestart_delay_max = 1m\nrestart_reset = 20s\n"
        "on_crashloop = poweroff\nstart_timeout = 30s\n"
        "[container side]\nlayers = /l\ncommand = /bin/true\nnetwork = container:web\n");
    CHECK(m != NULL);
    if (!m)
        return;
    CHECK_STR(m->system.hostname, "appliance");
    CHECK_INT(m->system.stop_timeout_ms, 5000);
    CHECK_INT(m->system.log_max_size, 2 << 20);
    CHECK_INT(strv_len(m->system.modules), 3);
    CHECK_STR(m->system.sysctl[0], "net.ipv4.ip_forward=1");
    CHECK_INT(m->system.on_exit, POWER_REBOOT);
    CHECK_INT(m->system.on_error, POWER_SHELL);
    CHECK_INT(strv_len(m->system.control), 2);
    CHECK_INT(m->n_interfaces, 1);
    CHECK_INT(m->interfaces[0].prefix, 24);
    CHECK_INT(m->interfaces[0].mtu, 1400);
    CHECK_INT(m->n_networks, 1);
    CHECK(m->networks[0].isolate);
    CHECK_INT(ntohl(m->networks[0].gateway.s_addr), 0x0a090001);
    CHECK_INT(m->n_containers, 3);
    struct container_spec *db = &m->containers[0], *web = &m->containers[1], *side = &m->containers[2];
    CHECK_STR(db->upper, "/var/lib/keel/db");
    CHECK_INT(strv_len(db->argv), 3);
    CHECK_INT(db->restart, RESTART_ALWAYS);
    CHECK_INT(db->stop_timeout_ms, 5000);
    CHECK_INT(db->health, HEALTH_TCP);
    CHECK_INT(strv_len(web->layers), 2);
    CHECK_INT(strv_len(web->env), 2);
    CHECK_STR(web->env[1], "MODE=test");
    CHECK_STR(web->user, "www");
    CHECK_INT(web->n_mounts, 2);
    CHECK(web->mounts[0].readonly);
    CHECK(!web->mounts[1].readonly);
    CHECK_INT(web->net, NET_BRIDGE);
    CHECK_INT(web->n_ports, 2);
    CHECK_INT(web->ports[1].proto, IPPROTO_UDP);
    CHECK_INT(web->ports[1].host_port, 5353);
    CHECK_INT(web->net_rate, 10000000);
    CHECK_INT(web->restart, RESTART_ON_FAILURE);
    CHECK_INT(web->restart_max, 5);
    CHECK_INT(web->deps[0].condition, DEP_READY);
    CHECK_INT(web->stop_signal, SIGQUIT);
    CHECK_INT(web->stop_timeout_ms, 3000);
    CHECK((web->caps & (1ull << 13)) != 0);   /* NET_RAW added */
    CHECK((web->caps & (1ull << 31)) == 0);   /* SETFCAP dropped */
    CHECK_INT(web->caps_ambient, 1ull << 10);
    CHECK(web->main);
    CHECK(!web->no_new_privs);
    CHECK_INT(web->seccomp, SECCOMP_UNCONFINED);
    CHECK_INT(web->n_rlimits, 2);
    CHECK_INT(web->rlimits[0].resource, RLIMIT_NOFILE);
    CHECK_INT(web->rlimits[0].hard, 200);
    CHECK(!web->userns);
    CHECK_INT(web->memory_max, 256 << 20);
    CHECK(web->memory_swap == KEEL_LIMIT_MAX);
    CHECK_INT(web->cpu_quota_us, 50000);
    CHECK_STR(web->cpuset, "0-1");
    CHECK_INT(web->pids_max, 128);
    CHECK_INT(web->n_io_read_bps, 1);
    CHECK_INT(web->io_read_bps[0].value, 10 << 20);
    CHECK_INT(web->oom_score_adj, 500);
    CHECK_INT(web->restart_delay_ms, 50);
    CHECK_INT(web->on_crashloop, POWER_POWEROFF);
    CHECK_INT(side->net, NET_CONTAINER);
    CHECK_INT(side->n_deps, 1);   /* container:web is an implicit dependency */
    /* Start order: dependencies first. */
    CHECK_INT(m->start_order[0], 0);
    CHECK_INT(m->start_order[1], 1);
    CHECK_INT(m->start_order[2], 2);
    manifest_free(m);
}

TEST(defaults)
{
    struct manifest *m = load_ok(C "[container b]\nlayers = /l\ncommand = /x\nnetwork = bridge\n");
    CHECK(m != NULL);
    if (!m)
        return;
    struct container_spec *a = &m->containers[0];
    CHECK_STR(m->system.log_dir, "/run/keel/log");
    CHECK_INT(m->system.stop_timeout_ms, 10000);
    CHECK_INT(m->system.on_exit, POWER_POWEROFF);
    CHECK_STR(m->system.control[0], "unix:///run/keel.sock");
    CHECK(a->upper == NULL);
    CHECK_INT(a->net, NET_NONE);
    CHECK_INT(a->restart, RESTART_NO);
    CHECK_INT(a->stop_signal, SIGTERM);
    CHECK(a->caps == caps_default());
    CHECK(a->no_new_privs);
    CHECK_INT(a->restart_delay_ms, 100);
    CHECK_INT(a->restart_delay_max_ms, 30000);
    CHECK_INT(a->restart_reset_ms, 10000);
    CHECK(a->memory_max == KEEL_LIMIT_UNSET);
    CHECK_INT(a->health_interval_ms, 10000);
    CHECK_INT(a->health_timeout_ms, 3000);
    CHECK_INT(a->health_retries, 3);
    CHECK_INT(a->on_unhealthy, POWER_RESTART);
    CHECK(a->pids_max == 2048 && a->pids_line == 0);
    CHECK_INT(m->system.log_max_size, 1 << 20);
    CHECK_INT(m->system.log_keep, 2);
    CHECK_INT(m->system.watchdog_timeout_ms, 30000);
    CHECK(m->system.control[1] == NULL);
    manifest_free(m);
    /* A rootless keel's runtime directory moves log_dir's and control's
     * defaults under it, and only those (cli.c sets it). */
    manifest_set_runtime_dir("/run/user/1000");
    m = load_ok(C "[container b]\nlayers = /l\ncommand = /x\nnetwork = bridge\n");
    manifest_set_runtime_dir(NULL);
    CHECK(m != NULL);
    if (!m)
        return;
    CHECK_STR(m->system.log_dir, "/run/user/1000/keel/log");
    CHECK_STR(m->system.control[0], "unix:///run/user/1000/keel.sock");
    CHECK(m->system.control[1] == NULL);
    CHECK_INT(m->system.stop_timeout_ms, 10000);
    /* A bridge container without [network keel0] gets the default network. */
    CHECK(manifest_find_network(m, "keel0") != NULL);
    CHECK_INT(manifest_find_network(m, "keel0")->mtu, 1500);
    CHECK_STR(m->containers[1].bridge, "keel0");
    manifest_free(m);
    /* A repeatable key's default stands only when the key is absent; a single
     * key's value replaces its default. */
    m = load_ok("[system]\ncontrol = unix:///run/x.sock\n[network n]\nsubnet = 10.1.0.0/24\n" C
                "restart_delay = 1s\npids = max\n");
    CHECK(m != NULL);
    if (!m)
        return;
    CHECK(m->system.control && m->system.control[0] && !m->system.control[1]);
    CHECK_STR(m->system.control[0], "unix:///run/x.sock");
    CHECK_INT(manifest_find_network(m, "n")->mtu, 1500);
    CHECK_INT(m->containers[0].restart_delay_ms, 1000);
    CHECK(m->containers[0].pids_max == KEEL_LIMIT_MAX && m->containers[0].pids_line == 9);
    manifest_free(m);
}

/* Loads TEXT with the file system looked at (env files read, layers
 * checked: the tests name "/" as their layer); returns the manifest or NULL
 * with the diagnostics joined in *ERRS (caller frees). */
static struct manifest *load_fs(const char *text, char **errs)
{
    struct manifest *m = NULL;
    struct diag d = { 0 };
    int r = manifest_load_buffer("t.ini", text, strlen(text), 0, &m, &d);
    *errs = strdup("");
    for (size_t i = 0; *errs && i < d.count; i++) {
        char *n = xasprintf("%s%s\n", *errs, d.msgs[i]);
        free(*errs);
        *errs = n;
    }
    diag_free(&d);
    return r < 0 ? NULL : m;
}

/* env_file = PATH: read at load; a later line of the files replaces an
 * earlier one, `env =` lines win whatever their order; a syntax error is
 * ENVFILE:LINE; keel check --no-fs reads none. */
TEST(env_file)
{
    char p1[] = "/tmp/keel-unit-env1.XXXXXX", p2[] = "/tmp/keel-unit-env2.XXXXXX";
    int f1 = mkstemp(p1), f2 = mkstemp(p2);
    CHECK(f1 >= 0 && f2 >= 0);
    if (f1 < 0 || f2 < 0)
        return;
    const char *one = "# app\nA=from-file\nB=one\nC=file-c\n";
    const char *two = "B=two\n\n  D=d with  spaces \nE=\n";
    CHECK(write(f1, one, strlen(one)) == (ssize_t)strlen(one) && write(f2, two, strlen(two)) == (ssize_t)strlen(two));
    close(f1);
    close(f2);
    char *text = xasprintf("[container c]\nlayers = /\ncommand = /bin/true\nenv = A=from-env\nenv_file = %s\n"
                           "env_file = %s\nenv = C=env-c\n", p1, p2);
    char *errs = NULL;
    struct manifest *m = load_fs(text, &errs);
    CHECK(m != NULL);
    if (!m)
        fprintf(stderr, "  errors: %s", errs ? errs : "");
    free(errs);
    if (m) {
        char *const *env = m->containers[0].env;
        CHECK_INT((int)strv_len(env), 5);
        CHECK(strv_contains(env, "A=from-env"));
        CHECK(strv_contains(env, "B=two"));
        CHECK(strv_contains(env, "C=env-c"));
        CHECK(strv_contains(env, "D=d with  spaces "));
        CHECK(strv_contains(env, "E="));
        manifest_free(m);
    }
    /* --no-fs: the files are not read (the env lines are all there is). */
    m = load_ok(text);
    CHECK(m && strv_len(m->containers[0].env) == 2);
    manifest_free(m);
    free(text);

    FILE *f = fopen(p2, "w");
    CHECK(f != NULL);
    if (f) {
        fputs("OK=1\nBARE\n", f);
        fclose(f);
    }
    text = xasprintf("[container c]\nlayers = /\ncommand = /bin/true\nenv_file = %s\nenv_file = /nonexistent/k.env\n"
                     "[system]\nfstab = /dev/vdb /data ext4\n[container d]\nlayers = /\ncommand = /bin/true\n"
                     "env_file = /data/app.env\n", p2);
    char *want = xasprintf("%s:2: 'BARE' has no value", p2);
    m = load_fs(text, &errs);
    CHECK(m == NULL);
    manifest_free(m);
    CHECK(errs && strstr(errs, want));
    CHECK(errs && strstr(errs, "t.ini:5: env_file: cannot read /nonexistent/k.env: No such file or directory"));
    CHECK(errs && strstr(errs, "t.ini:11: env_file: /data/app.env is on a [system] fstab file system"));
    if (errs && !strstr(errs, want))
        fprintf(stderr, "  got: %s", errs);
    free(errs);
    free(want);
    free(text);
    /* A symlink at the env_file's name (one a container sharing the
     * directory put there, to a host file): refused, its target's
     * variables never reach the container. */
    char *link_path = xasprintf("%s.link", p1);
    CHECK_INT(symlink(p1, link_path), 0);
    text = xasprintf("[container c]\nlayers = /\ncommand = /bin/true\nenv_file = %s\n", link_path);
    want = xasprintf("t.ini:4: env_file: %s is a symlink (name the real path)", link_path);
    m = load_fs(text, &errs);
    CHECK(m == NULL);
    manifest_free(m);
    CHECK(errs && strstr(errs, want));
    free(errs);
    free(want);
    free(text);
    unlink(link_path);
    free(link_path);
    unlink(p1);
    unlink(p2);
    EXPECT_ERROR(C "env_file = relative.env\n", "t.ini:4: env_file: 'relative.env' is not an absolute path");
}

/* secret = SRC:DST[:UID:GID:MODE]: defaults 0:0 0400; the file is not read here. */
TEST(secrets)
{
    struct manifest *m = load_ok(C "secret = /etc/keel/db.pass:/run/secrets/db\n"
                                   "secret = /k:/etc/k.pem:1000:50:0440\n");
    CHECK(m != NULL);
    if (m) {
        const struct container_spec *c = &m->containers[0];
        CHECK_INT((int)c->n_secrets, 2);
        CHECK_STR(c->secrets[0].source, "/etc/keel/db.pass");
        CHECK_STR(c->secrets[0].target, "/run/secrets/db");
        CHECK(c->secrets[0].uid == 0 && c->secrets[0].gid == 0 && c->secrets[0].mode == 0400);
        CHECK(c->secrets[1].uid == 1000 && c->secrets[1].gid == 50 && c->secrets[1].mode == 0440);
        CHECK_INT(c->secrets[1].line, 5);
        manifest_free(m);
    }
    EXPECT_ERROR(C "secret = /a\n", "t.ini:4: secret: '/a' is not SRC:DST[:UID:GID:MODE]");
    EXPECT_ERROR(C "secret = /a:/b:1:2\n", "t.ini:4: secret: '/a:/b:1:2' is not SRC:DST[:UID:GID:MODE]");
    EXPECT_ERROR(C "secret = a:/b\n", "t.ini:4: secret: 'a' is not an absolute path");
    EXPECT_ERROR(C "secret = /a:/\n", "t.ini:4: secret: '/' is not a file path in the container");
    EXPECT_ERROR(C "secret = /a:/run/../etc/x\n", "t.ini:4: secret: '/run/../etc/x' contains '..'");
    EXPECT_ERROR(C "secret = /a:/b:0:0:0755x\n", "t.ini:4: secret: '0755x' is not an octal mode");
    EXPECT_ERROR(C "secret = /a:/b:0:0:4755\n", "t.ini:4: secret: '4755' is not an octal mode");
    EXPECT_ERROR(C "secret = /a:/b:-1:0:0400\n", "t.ini:4: secret:");
    EXPECT_ERROR(C "secret = /a:/b\nsecret = /c:/b\n", "t.ini:5: secret: /b is given twice (first on line 4)");
}

TEST(bad_values)
{
    EXPECT_ERROR("[system]\nstop_timeout = soon\n", "t.ini:2: stop_timeout:");
    EXPECT_ERROR("[system]\nhostname = -bad\n", "t.ini:2: hostname:");
    EXPECT_ERROR("[system]\ndns = 1.2.3\n", "t.ini:2: dns:");
    EXPECT_ERROR("[system]\non_exit = explode\n", "t.ini:2: on_exit: 'explode' is not one of");
    EXPECT_ERROR("[system]\nlog_dir = relative\n", "t.ini:2: log_dir: 'relative' is not an absolute path");
    EXPECT_ERROR("[system]\ncontrol = http://x\n", "t.ini:2: control:");
    EXPECT_ERROR("[system]\nsysctl = novalue\n", "t.ini:2: sysctl:");
    EXPECT_ERROR("[system]\nlog_keep = 101\n", "t.ini:2: log_keep:");
    EXPECT_ERROR(C "upper = rel\n", "t.ini:4: upper:");
    EXPECT_ERROR(C "env = 1A=b\n", "t.ini:4: env:");
    EXPECT_ERROR(C "env = noequals\n", "t.ini:4: env:");
    EXPECT_ERROR(C "user = 1:\n", "t.ini:4: user:");
    EXPECT_ERROR(C "user = :1\n", "t.ini:4: user:");
    EXPECT_ERROR(C "user = -1\n", "t.ini:4: user:");
    EXPECT_ERROR(C "user = 4294967296\n", "t.ini:4: user:");
    EXPECT_ERROR(C "mount = /a\n", "t.ini:4: mount:");
    EXPECT_ERROR(C "mount = /a:/b:rx\n", "t.ini:4: mount:");
    EXPECT_ERROR(C "mount = /a:/\n", "t.ini:4: mount:");
    EXPECT_ERROR(C "mount = /a/../b:/c\n", "contains '..'");
    EXPECT_ERROR(C "network = wifi\n", "t.ini:4: network:");
    EXPECT_ERROR(C "restart = sometimes\n", "t.ini:4: restart:");
    EXPECT_ERROR(C "restart = on-failure:0\n", "t.ini:4: restart:");
    EXPECT_ERROR(C "stop_signal = SIGNOPE\n", "t.ini:4: stop_signal:");
    EXPECT_ERROR(C "capabilities = +CAP_FLY\n", "t.ini:4: capabilities: unknown capability 'CAP_FLY'");
    EXPECT_ERROR(C "capabilities = CHOWN +KILL\n", "t.ini:4: capabilities:");
    EXPECT_ERROR(C "memory = lots\n", "t.ini:4: memory:");
    EXPECT_ERROR(C "memory = 99999999999999999999\n", "t.ini:4: memory:");
    EXPECT_ERROR(C "cpus = -1\n", "t.ini:4: cpus:");
    EXPECT_ERROR(C "cpu_weight = 0\n", "t.ini:4: cpu_weight:");
    EXPECT_ERROR(C "cpu_weight = 10001\n", "t.ini:4: cpu_weight:");
    EXPECT_ERROR(C "pids = 0\n", "t.ini:4: pids:");
    EXPECT_ERROR(C "cpuset = 3-1\n", "t.ini:4: cpuset:");
    EXPECT_ERROR(C "io_read_bps = /dev/vda\n", "t.ini:4: io_read_bps:");
    EXPECT_ERROR(C "io_write_iops = /dev/vda x\n", "t.ini:4: io_write_iops:");
    EXPECT_ERROR(C "oom_score_adj = 1001\n", "t.ini:4: oom_score_adj:");
    EXPECT_ERROR(C "ports = 0:80\n", "t.ini:4: ports:");
    EXPECT_ERROR(C "ports = 80:80/sctp\n", "t.ini:4: ports:");
    EXPECT_ERROR(C "health_retries = 0\n", "t.ini:4: health_retries:");
    EXPECT_ERROR(C "ready = fd:2\n", "t.ini:4: ready:");
    EXPECT_ERROR(C "rlimit = nofile=10:5\n", "t.ini:4: rlimit:");
    EXPECT_ERROR(C "rlimit = open=1\n", "t.ini:4: rlimit:");
    EXPECT_ERROR(C "userns = 0:100000\n", "t.ini:4: userns:");
    EXPECT_ERROR(C "main = maybe\n", "t.ini:4: main:");
    EXPECT_ERROR(C "seccomp = strict\n", "t.ini:4: seccomp:");
    EXPECT_ERROR("[container a]\nlayers = /l\ncommand = bin/true\n", "t.ini:3: command: 'bin/true' is not an absolute path");
    EXPECT_ERROR("[container a]\nlayers = /a,b:/c\ncommand = /x\n", "t.ini:2: layers:");
    EXPECT_ERROR("[container a]\nlayers = /a:rel\ncommand = /x\n", "t.ini:2: layers:");
    EXPECT_ERROR("[network n]\nsubnet = 10.0.0.1/24\n", "t.ini:2: subnet: '10.0.0.1/24' has host bits set");
    EXPECT_ERROR("[interface eth0]\naddress = 10.0.0.1\n", "t.ini:2: address:");
}

/* userns.h owns the syntax (test_userns.c); here: it reaches the spec and
 * its errors carry FILE:LINE. */
TEST(userns_values)
{
    struct manifest *m = load_ok(C "userns = no\n");
    CHECK(m != NULL && m->containers[0].userns == USERNS_NO);
    manifest_free(m);
    m = load_ok(C "userns = auto\n");
    CHECK(m != NULL && m->containers[0].userns == USERNS_AUTO);
    manifest_free(m);
    m = load_ok(C "userns = 0:100000:65536\n");
    CHECK(m != NULL && m->containers[0].userns == USERNS_MAP && m->containers[0].n_userns_map == 1 &&
          m->containers[0].userns_map[0].outside == 100000);
    manifest_free(m);
    EXPECT_ERROR(C "userns = 0:-1:2\n", "t.ini:4: userns:");
    EXPECT_ERROR(C "userns = 0:0:2\n", "t.ini:4: userns: '0:0:2' maps the host's root");
}

/* [system] fstab reaches the spec in order; a target mounted twice is an
 * error; paths on an fstab file system are not checked at load (it is not
 * mounted yet at boot), paths elsewhere are. */
TEST(fstab)
{
    struct manifest *m = load_ok("[system]\nfstab = /dev/vda /data ext4 noatime\nfstab = tmpfs /scratch tmpfs size=1M\n");
    CHECK(m != NULL && m->system.n_fstab == 2);
    if (m && m->system.n_fstab == 2) {
        CHECK_STR(m->system.fstab[0].target, "/data");
        CHECK_INT(m->system.fstab[0].line, 2);
        CHECK_STR(m->system.fstab[1].data, "size=1M");
    }
    manifest_free(m);
    EXPECT_ERROR("[system]\nfstab = /dev/vda /data ext4\nfstab = /dev/vdb /data ext4\n",
                 "t.ini:3: fstab: /data is mounted twice (first on line 2)");
    EXPECT_ERROR("[system]\nfstab = /dev/vda /proc ext4\n", "t.ini:2: fstab: target '/proc' is keel's own");

    const char *text = "[system]\nfstab = /dev/vda /nonexistent-keel-data ext4\n"
                       "[container a]\nlayers = /nonexistent-keel-data/layers/base\ncommand = /bin/true\n"
                       "mount = /nonexistent-keel-data/v:/v\n"
                       "[container b]\nlayers = /nonexistent-keel-elsewhere\ncommand = /bin/true\n";
    struct diag d = { 0 };
    m = NULL;
    CHECK(manifest_load_buffer("t.ini", text, strlen(text), 0, &m, &d) < 0);
    CHECK_INT(d.count, 1);
    CHECK(d.count == 1 && strstr(d.msgs[0], "t.ini:8: container 'b': layer /nonexistent-keel-elsewhere is not a directory"));
    diag_free(&d);
    manifest_free(m);
}

TEST(volumes)
{
    struct manifest *m = load_ok("[volume data]\nlabel = keeldata\n"
                                 "[volume scratch]\ndevice = /dev/vdc\nmkfs = ext4\noptions = noatime,ro,user_xattr\n"
                                 C "upper = volume:data/a\nmount = volume:scratch/cache/x:/cache:ro\n"
                                 "mount = volume:data:/all\n");
    CHECK(m != NULL);
    if (m) {
        CHECK_INT(m->n_volumes, 2);
        const struct volume_spec *v = manifest_find_volume(m, "scratch");
        CHECK(v && v->mkfs && strcmp(v->mkfs, "ext4") == 0);
        CHECK(v && (v->flags & (MS_NOSUID | MS_NODEV | MS_RDONLY | MS_NOATIME)) ==
                       (MS_NOSUID | MS_NODEV | MS_RDONLY | MS_NOATIME));
        CHECK_STR(v ? v->data : NULL, "user_xattr");
        CHECK_INT(manifest_find_volume(m, "data")->flags & (MS_NOSUID | MS_NODEV), MS_NOSUID | MS_NODEV);
        const struct container_spec *c = &m->containers[0];
        CHECK_STR(c->upper, MANIFEST_VOLUMES_DIR "/data/a");
        CHECK_STR(c->upper_volume, "data");
        CHECK_STR(c->upper_volume_sub, "a");
        CHECK_INT(c->n_mounts, 2);
        CHECK_STR(c->mounts[0].source, MANIFEST_VOLUMES_DIR "/scratch/cache/x");
        CHECK_STR(c->mounts[0].volume, "scratch");
        CHECK_STR(c->mounts[0].volume_sub, "cache/x");
        CHECK_STR(c->mounts[0].target, "/cache");
        CHECK(c->mounts[0].readonly);
        CHECK_STR(c->mounts[1].source, MANIFEST_VOLUMES_DIR "/data");
        CHECK_STR(c->mounts[1].volume_sub, "");
    }
    manifest_free(m);
    /* The file system checks leave volume paths to the start (not mounted yet). */
    const char *text = "[volume data]\nlabel = x\n[container a]\nlayers = /\ncommand = /bin/true\n"
                       "mount = volume:data/never-made:/d\n";
    struct diag d = { 0 };
    m = NULL;
    CHECK_INT(manifest_load_buffer("t.ini", text, strlen(text), 0, &m, &d), 0);
    diag_free(&d);
    manifest_free(m);

    EXPECT_ERROR(C "upper = volume:nope/a\n", "t.ini:4: container 'a': unknown volume 'nope'");
    EXPECT_ERROR("[volume v]\nlabel = x\n" C "mount = volume:w/a:/a\n", "t.ini:6: container 'a': unknown volume 'w'");
    EXPECT_ERROR("[volume v]\nlabel = x\n" C "mount = volume:v/../etc:/a\n", "t.ini:6: mount: 'volume:v/../etc'");
    EXPECT_ERROR("[volume v]\nlabel = x\n" C "upper = volume:v//a\n", "t.ini:6: upper: 'volume:v//a'");
    EXPECT_ERROR("[volume v]\nlabel = x\n" C "upper = volume:v/a/\n", "ends with '/'");
    EXPECT_ERROR("[volume v]\nlabel = x\n[volume w]\nlabel = x\n",
                 "t.ini:4: volume 'w' names the same disk as volume 'v' (line 1)");
    EXPECT_ERROR("[volume v]\ndevice = /dev/vdb\n[volume w]\ndevice = /dev/vdb\n", "t.ini:4: volume 'w' names the same disk");
    /* keel update's slots live on a [volume] of the manifest. */
    EXPECT_ERROR("[system]\nupdate_volume = upd\n" C, "t.ini:2: update_volume 'upd' is no [volume] of this manifest");
    EXPECT_ERROR("[system]\nupdate_volume = v\nupdate_confirm = 10ms\n[volume v]\nlabel = x\n" C,
                 "t.ini:3: update_confirm must be at least 1s");
    m = load_ok("[system]\nupdate_volume = v\nupdate_key = /etc/keel/u.pub\n[volume v]\nlabel = x\n" C);
    CHECK(m && strcmp(m->system.update_volume, "v") == 0 && m->system.update_confirm_ms == 60000 &&
          strcmp(m->system.update_key, "/etc/keel/u.pub") == 0);
    manifest_free(m);
    /* No container may write the slots (past update_key): a read-write bind
     * of slots/, of a path in it or of a directory above it is refused;
     * read-only, or another directory of the volume, is fine. */
#define UV "[system]\nupdate_volume = v\n[volume v]\nlabel = x\n" C
    EXPECT_ERROR(UV "mount = volume:v:/u\n", "t.ini:8: container 'a': mount /var/lib/keel/volumes/v would let it "
                 "write /var/lib/keel/volumes/v/slots, the payload slots keel update verifies (update_volume): add :ro");
    EXPECT_ERROR(UV "mount = volume:v/slots/A:/u:rw\n", "t.ini:8: container 'a': mount /var/lib/keel/volumes/v/slots/A");
    EXPECT_ERROR(UV "mount = /var/lib/keel:/u\n", "t.ini:8: container 'a': mount /var/lib/keel would let it");
    EXPECT_ERROR(UV "mount = //var/lib/keel/./volumes/v/slots/:/u\n", "t.ini:8: container 'a': mount");
    const char *const uv_ok[] = { UV "mount = volume:v:/u:ro\n", UV "mount = volume:v/data:/u\n",
                                  UV "mount = /var/lib/keel/volumes/vv:/u\n", UV "mount = /var/lib/keel/volumes/v/slotsx:/u\n" };
    for (size_t i = 0; i < ARRAY_SIZE(uv_ok); i++) {
        m = load_ok(uv_ok[i]);
        CHECK(m != NULL);
        manifest_free(m);
    }
#undef UV
    EXPECT_ERROR("[volume v]\nfstype = ext4\n", "t.ini:1: volume 'v' needs device, label or uuid");
    EXPECT_ERROR("[volume v]\ndevice = /dev/vdb\nlabel = x\n", "t.ini:1: volume 'v': give only one of device, label and uuid");
    EXPECT_ERROR("[volume v]\nlabel = x\nmkfs = ext4\n", "t.ini:3: volume 'v': mkfs needs device =");
    EXPECT_ERROR("[volume v]\ndevice = /dev/vdb\nmkfs = xfs\n", "t.ini:3: mkfs: 'xfs': keel formats only ext4");
    EXPECT_ERROR("[volume v]\ndevice = /dev/vdb\nmkfs = ext4\nfstype = xfs\n", "t.ini:4: volume 'v': fstype xfs but mkfs = ext4");
    EXPECT_ERROR("[volume v]\ndevice = /srv/disk\n", "t.ini:2: device: '/srv/disk' is not a device path in /dev");
    EXPECT_ERROR("[volume v]\nuuid = 1234\n", "t.ini:2: uuid: '1234' is not a UUID");
    EXPECT_ERROR("[volume v]\nlabel = x\noptions = dev\n", "t.ini:3: options: 'dev': a volume is always nosuid,nodev");
    EXPECT_ERROR("[volume v]\nlabel = x\noptions = suid\n", "always nosuid,nodev");
    EXPECT_ERROR("[volume v]\nlabel = x\n[volume v]\nlabel = y\n", "t.ini:3: volume 'v' is defined twice");
    EXPECT_ERROR("[volume]\n", "t.ini:1: [volume] needs a name: [volume NAME]");
    EXPECT_ERROR("[volume ../x]\n", "t.ini:1: '../x' is not a valid volume name");

    /* The reference syntax, for every key that names a path on a volume. */
    char name[40], sub[64], why[PARSE_WHY_MAX];
    CHECK_INT(manifest_volume_ref("/var/lib/x", name, sizeof name, sub, sizeof sub, why), 0);
    CHECK_INT(manifest_volume_ref("volume:data/clock/saved", name, sizeof name, sub, sizeof sub, why), 1);
    CHECK_STR(name, "data");
    CHECK_STR(sub, "clock/saved");
    CHECK_INT(manifest_volume_ref("volume:/x", name, sizeof name, sub, sizeof sub, why), -EINVAL);
    CHECK_INT(manifest_volume_ref("volume:d/./x", name, sizeof name, sub, sizeof sub, why), -EINVAL);
}

TEST(structure_errors)
{
    EXPECT_ERROR("key = value\n", "t.ini:1: key 'key' outside of any section");
    EXPECT_ERROR("[systems]\n", "t.ini:1: unknown section [systems]");
    EXPECT_ERROR("[container]\n", "t.ini:1: [container] needs a name");
    EXPECT_ERROR("[container a b]\n", "more than two words");
    EXPECT_ERROR("[container a\n", "t.ini:1: section header has no closing ']'");
    EXPECT_ERROR("[container a] x\n", "text after the section header");
    EXPECT_ERROR("[container -a]\n", "not a valid container name");
    EXPECT_ERROR("[system]\n[system]\n", "t.ini:2: [system] appears twice");
    EXPECT_ERROR(C C, "t.ini:4: container 'a' is defined twice");
    EXPECT_ERROR(C "command = /x\n", "t.ini:4: 'command' is set twice in this section (first on line 3)");
    EXPECT_ERROR(C "flavour = mint\n", "t.ini:4: unknown key 'flavour' in [container]");
    EXPECT_ERROR("[system]\njust words\n", "t.ini:2: expected KEY = VALUE");
    EXPECT_ERROR("[system]\n= value\n", "t.ini:2: missing key name");
    EXPECT_ERROR("[container a]\ncommand = /x\n", "container 'a' has no layers");
    EXPECT_ERROR("[container a]\nlayers = /l\n", "container 'a' has no command");
    EXPECT_ERROR(C "depends = ghost\n", "t.ini:4: container 'a' depends on unknown container 'ghost'");
    EXPECT_ERROR(C "depends = a\n", "depends on itself");
    EXPECT_ERROR(C "depends = b\n[container b]\nlayers = /l\ncommand = /x\ndepends = a\n",
                 "part of a dependency cycle");
    EXPECT_ERROR(C "network = container:ghost\n", "names no container");
    EXPECT_ERROR(C "main = yes\n[container b]\nlayers = /l\ncommand = /x\nmain = yes\n", "only one container may be main");
    EXPECT_ERROR(C "ports = 80:80\n", "t.ini:4: container a: ports require network = bridge");
    EXPECT_ERROR(C "network = bridge\nports = 80:80\n[container b]\nlayers = /l\ncommand = /x\n"
                   "network = bridge\nports = 80:81\n", "t.ini:10: container b: host port 80/tcp is already published by container a (line 5)");
    EXPECT_ERROR(C "network = bridge\nip = 10.0.0.5\n", "container a: ip 10.0.0.5 is outside network keel0 (172.30.0.0/24)");
    EXPECT_ERROR(C "network = bridge\nbridge = nope\n", "container a: bridge 'nope' names no [network] section");
    EXPECT_ERROR(C "depends = b:healthy\n[container b]\nlayers = /l\ncommand = /x\n", "has no health check");
    EXPECT_ERROR("[system]\ncontrol = tcp://0.0.0.0:2376\n", "needs control_tls_cert");
    EXPECT_ERROR("[network a]\nsubnet = 10.0.0.0/16\n[network b]\nsubnet = 10.0.1.0/24\n", "overlaps");
}

/* Errors of cross-field rules point at the line of the key whose value is
 * wrong, not at the section's header (the old behaviour for all of these). */
/* `depends` names two conditions of the machine beside containers; their
 * names can never be a container's. */
TEST(conditions)
{
    struct manifest *m = load_ok(C "depends = clock b network-online\n[container b]\nlayers = /l\ncommand = /x\n");
    CHECK(m != NULL);
    if (!m)
        return;
    CHECK_INT(m->containers[0].wait_conditions, KEEL_COND_NETWORK_ONLINE | KEEL_COND_CLOCK);
    CHECK_INT(m->containers[0].n_deps, 1);
    CHECK_STR(m->containers[0].deps[0].name, "b");
    CHECK_INT(m->containers[1].wait_conditions, 0);
    manifest_free(m);
    CHECK_STR(manifest_condition_name(KEEL_COND_CLOCK), "clock");
    CHECK_INT(manifest_condition_of("network-online"), KEEL_COND_NETWORK_ONLINE);
    CHECK_INT(manifest_condition_of("db"), 0);
    EXPECT_ERROR(C "[container clock]\nlayers = /l\ncommand = /x\n",
                 "t.ini:4: 'clock' is reserved: `depends = clock` waits for that condition");
    EXPECT_ERROR(C "depends = network-online:healthy\n",
                 "t.ini:4: depends: 'network-online' is a condition: it takes no ':healthy'");
}

TEST(cross_reference_lines)
{
    EXPECT_ERROR("[system]\n\n\n[container web]\nlayers = /l\ncommand = /x\nnetwork = container:missing\n",
                 "t.ini:7: container web: network = container:missing names no container");
    EXPECT_ERROR(C "network = container:a\n", "t.ini:4: container a: network = container:a names itself");
    EXPECT_ERROR(C "network = container:b\n[container b]\nlayers = /l\ncommand = /x\nnetwork = host\n",
                 "t.ini:4: container a: network = container:b, but b uses the host network");
    EXPECT_ERROR(C "network = bridge\nip = 10.0.0.5\n",
                 "t.ini:5: container a: ip 10.0.0.5 is outside network keel0 (172.30.0.0/24)");
    EXPECT_ERROR(C "network = bridge\nip = 172.30.0.1\n", "t.ini:5: container a: ip 172.30.0.1 is the gateway");
    EXPECT_ERROR(C "network = bridge\nip = 172.30.0.5\n[container b]\nlayers = /l\ncommand = /x\nnetwork = bridge\n"
                   "ip = 172.30.0.5\n",
                 "t.ini:10: container b: ip 172.30.0.5 is already used by container a (line 5)");
    EXPECT_ERROR(C "network = bridge\nbridge = nope\n", "t.ini:5: container a: bridge 'nope' names no [network] section");
    EXPECT_ERROR(C "ip = 10.0.0.5\n", "t.ini:4: container a: ip requires network = bridge");
    EXPECT_ERROR(C "net_rate = 10mbit\n", "t.ini:4: container a: net_rate requires network = bridge");
    EXPECT_ERROR("[network n]\nsubnet = 10.0.0.0/30\n[container a]\nlayers = /l\ncommand = /x\nnetwork = bridge\n"
                 "bridge = n\n[container b]\nlayers = /l\ncommand = /x\nnetwork = bridge\nbridge = n\n",
                 "t.ini:11: container b: no free address left in network n");
    EXPECT_ERROR("[network a]\nmtu = 1400\nsubnet = 10.0.0.0/16\n[network b]\nisolate = yes\nsubnet = 10.0.1.0/24\n",
                 "t.ini:6: network b: subnet 10.0.1.0/24 overlaps network a (line 3)");
    EXPECT_ERROR("[network n]\nsubnet = 10.0.0.0/24\ngateway = 10.0.1.1\n",
                 "t.ini:3: network n: gateway 10.0.1.1 is not a host address");
    EXPECT_ERROR(C "upper_size = 64M\n", "t.ini:4: container 'a': upper_size needs upper = tmpfs");
    EXPECT_ERROR(C "restart_delay = 1m\n", "t.ini:4: container 'a': restart_delay is above restart_delay_max");
    EXPECT_ERROR(C "restart_delay_max = 50ms\n", "t.ini:4: container 'a': restart_delay is above restart_delay_max");
    EXPECT_ERROR(C "restart_delay_max = 1s\nrestart_delay = 2s\n",
                 "t.ini:5: container 'a': restart_delay is above restart_delay_max");
    EXPECT_ERROR(C "on_unhealthy = none\n", "t.ini:4: container 'a': on_unhealthy needs a health check");
    EXPECT_ERROR(C "capabilities = none\nambient_capabilities = KILL\n",
                 "t.ini:5: container 'a': ambient_capabilities must be within capabilities");
    EXPECT_ERROR(C "main = yes\n[container b]\nlayers = /l\ncommand = /x\n\nmain = yes\n",
                 "t.ini:9: container 'b': only one container may be main");
    EXPECT_ERROR(C "userns = 0:100000:65536\n[container b]\nlayers = /l\ncommand = /x\nuserns = 0:100000:10\n",
                 "t.ini:8: container 'b': userns host ids overlap those of container 'a' (line 4) at 100000");
    /* container:NAME is an implicit dependency: a cycle through it names the network line. */
    EXPECT_ERROR(C "network = container:b\n[container b]\nlayers = /l\ncommand = /x\ndepends = a\n",
                 "t.ini:4: container 'a' is part of a dependency cycle");
    EXPECT_ERROR("[system]\nhostname = x\ncontrol = tcp://0.0.0.0:2376\n",
                 "t.ini:3: a tcp:// control listener needs control_tls_cert");
}

/* manifest_secrets_stamp: the same for sources that did not change; unknown
 * (never equal) for one changed in the last seconds (a later change in the
 * same timestamp tick could leave its times as they are) and for one that
 * cannot be looked at. */
TEST(secrets_stamp)
{
    /* A source whose ctime is long settled: /dev/null's is usually the
     * boot's, but a chmod or chown of it (a test's, an admin's) makes it
     * "now"; the others are as old as the machine's installation. */
    static const char *const settled[] = { "/dev/null", "/etc/debian_version", "/usr/bin/env", "/" };
    const char *old = NULL;
    struct stat st;
    for (size_t i = 0; i < ARRAY_SIZE(settled) && !old; i++)
        if (stat(settled[i], &st) == 0 && st.st_ctim.tv_sec + 10 < time(NULL))
            old = settled[i];
    CHECK(old != NULL);
    if (!old)
        return;
    struct secret_spec sec[2] = { { .source = (char *)old }, { .source = NULL } };
    struct container_spec c = { .secrets = sec, .n_secrets = 1 };
    struct file_digest a, b;
    manifest_secrets_stamp(&c, &a);
    manifest_secrets_stamp(&c, &b);
    CHECK(a.known && b.known && memcmp(a.sha256, b.sha256, sizeof a.sha256) == 0);
    char path[] = "/tmp/keel-stamp-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd >= 0)
        close(fd);
    sec[1].source = path;
    c.n_secrets = 2;
    manifest_secrets_stamp(&c, &b);
    CHECK(!b.known);   /* just written */
    unlink(path);
    sec[1].source = (char *)"/nonexistent/keel-secret";
    manifest_secrets_stamp(&c, &b);
    CHECK(!b.known);
}

TEST(all_errors_reported)
{
    const char *text = "[system]\nstop_timeout = x\nbogus = 1\n" C "memory = y\n";
    char *e = load_bad(text, strlen(text));
    CHECK(e != NULL);
    if (!e)
        return;
    CHECK(strstr(e, "t.ini:2:") != NULL);
    CHECK(strstr(e, "t.ini:3:") != NULL);
    CHECK(strstr(e, "t.ini:7:") != NULL);
    free(e);
}

TEST(hostile_bytes)
{
    /* A line beyond inih's 200-byte default and our limit is an error, never truncated. */
    char big[5000];
    int n = snprintf(big, sizeof big, C "env = X=");
    memset(big + n, 'a', 4500);
    big[n + 4500] = '\n';
    big[n + 4501] = '\0';
    EXPECT_ERROR(big, "t.ini:4: line is longer than");
    /* A 300-byte line is fine: inih's 200-byte default is lifted. */
    n = snprintf(big, sizeof big, C "env = X=");
    memset(big + n, 'b', 300);
    snprintf(big + n + 300, sizeof big - (size_t)n - 300, "\n");
    struct manifest *m = load_ok(big);
    CHECK(m && strlen(m->containers[0].env[0]) == 302);
    manifest_free(m);
    /* A section name beyond inih's 50-byte default is kept whole (and reported when too long). */
    EXPECT_ERROR("[container aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]\n", "not a valid container name");
    static const char nul[] = "[system]\nhostname = a\0b\n";
    char *e = load_bad(nul, sizeof nul - 1);
    CHECK(e && strstr(e, "t.ini:2: line contains a NUL byte"));
    free(e);
    EXPECT_ERROR("[system]\nhostname = \xff\xfe\n", "t.ini:2: line is not valid UTF-8");
    EXPECT_ERROR("[system]\nhostname = \xc0\xaf\n", "not valid UTF-8");
    EXPECT_ERROR("[system]\nhostname = a\x01\n", "control character");
    EXPECT_ERROR("[system]\n  continued = x\nstop_timeout = 1\n  stop_timeout = 2\n", "set twice");
    /* Nothing of a broken manifest comes back. */
    struct manifest *none = (struct manifest *)1;
    struct diag d = { 0 };
    CHECK_INT(manifest_load_buffer("t.ini", "[system]\nx=1\n", 13, 0, &none, &d), -EINVAL);
    CHECK(none == NULL);
    diag_free(&d);
}

TEST(key_table_is_complete)
{
    /* Every key the table prints parses in its section (no orphan rows). */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    manifest_print_keys(f);
    fclose(f);
    CHECK(strstr(buf, "container\tlayers\t") != NULL);
    CHECK(strstr(buf, "system\tstop_timeout\t") != NULL);
    CHECK(strstr(buf, "network\tsubnet\t") != NULL);
    size_t lines = 0;
    for (char *p = buf; *p; p++)
        lines += *p == '\n';
    CHECK(lines > 60);
    free(buf);
}

/* A seccomp profile is read once, at the load: its text is kept in the spec
 * (what seccomp_build compiles), and a profile that cannot be read whole is
 * the manifest's error at its line.  A FIFO is refused at once, not waited
 * on; MANIFEST_NO_FS_CHECKS reads none (no text then). */
TEST(seccomp_profile_read_once)
{
    char dir[] = "/tmp/keel-unit-prof.XXXXXX";
    if (!mkdtemp(dir))
        SKIP("cannot make a temporary directory");
    char *prof = xasprintf("%s/p.sc", dir), *fifo = xasprintf("%s/fifo.sc", dir);
    FILE *f = fopen(prof, "we");
    CHECK(f != NULL);
    if (f) {
        fputs("default allow\nerrno mkdir\n", f);
        fclose(f);
    }
    CHECK_INT(mkfifo(fifo, 0600), 0);
    struct manifest *m = NULL;
    struct diag d = { 0 };
    char *text = xasprintf("[container c]\nlayers = %s\ncommand = /bin/c\nseccomp = %s\n", dir, prof);
    CHECK_INT(manifest_load_buffer("t.ini", text, strlen(text), 0, &m, &d), 0);
    if (m) {
        const struct container_spec *c = &m->containers[0];
        CHECK(c->seccomp_text && c->seccomp_text_len == 26 && strcmp(c->seccomp_text, "default allow\nerrno mkdir\n") == 0);
        CHECK(c->seccomp_digest.known);
        manifest_free(m);
        m = NULL;
    }
    CHECK_INT(manifest_load_buffer("t.ini", text, strlen(text), MANIFEST_NO_FS_CHECKS, &m, &d), 0);
    CHECK(m && !m->containers[0].seccomp_text && !m->containers[0].seccomp_digest.known);
    manifest_free(m);
    m = NULL;
    free(text);
    text = xasprintf("[container c]\nlayers = %s\ncommand = /bin/c\nseccomp = %s\n", dir, fifo);
    CHECK_INT(manifest_load_buffer("t.ini", text, strlen(text), 0, &m, &d), -EINVAL);
    CHECK(d.count == 1 && strstr(d.msgs[0], "t.ini:4: container 'c': cannot read seccomp profile") &&
          strstr(d.msgs[0], "fifo.sc: not a regular file"));
    diag_free(&d);
    free(text);
    CHECK_INT(unlink(fifo), 0);
    CHECK_INT(unlink(prof), 0);
    CHECK_INT(rmdir(dir), 0);
    free(prof);
    free(fifo);
}

/* A profile on an fstab file system is left to manifest_digest_mounted;
 * when it cannot be read there, the spec keeps why for the start's message
 * (seccomp_build): the errno, or ETIMEDOUT when the bounded read gave up. */
TEST(seccomp_profile_fstab_why)
{
    char dir[] = "/tmp/keel-unit-prof.XXXXXX";
    if (!mkdtemp(dir))
        SKIP("cannot make a temporary directory");
    char *sub = xasprintf("%s/sub.sc", dir);
    CHECK_INT(mkdir(sub, 0700), 0);
    struct manifest *m = NULL;
    struct diag d = { 0 };
    char *text = xasprintf("[system]\nfstab = none %s tmpfs\n[container c]\nlayers = %s\ncommand = /bin/c\n"
                           "seccomp = %s/missing.sc\n[container s]\nlayers = %s\ncommand = /bin/c\nseccomp = %s\n",
                           dir, dir, dir, dir, sub);
    CHECK_INT(manifest_load_buffer("t.ini", text, strlen(text), 0, &m, &d), 0);
    if (m) {
        CHECK(!m->containers[0].seccomp_text && m->containers[0].seccomp_read_err == 0);   /* not tried yet */
        manifest_digest_mounted(m);
        CHECK_INT(m->containers[0].seccomp_read_err, ENOENT);
        CHECK_INT(m->containers[1].seccomp_read_err, EINVAL);
        CHECK(strcmp(manifest_read_why(EINVAL), "not a regular file") == 0);
        manifest_free(m);
        m = NULL;
    }
    CHECK_INT(manifest_load_buffer("t.ini", text, strlen(text), 0, &m, &d), 0);
    if (m) {
        manifest_mounted_timed_out(m);
        CHECK_INT(m->containers[0].seccomp_read_err, ETIMEDOUT);
        CHECK(strcmp(manifest_read_why(ETIMEDOUT), "no answer from its file system in time") == 0);
        manifest_free(m);
    }
    diag_free(&d);
    free(text);
    CHECK_INT(rmdir(sub), 0);
    CHECK_INT(rmdir(dir), 0);
    free(sub);
}

int main(void)
{
    RUN(full_manifest);
    RUN(defaults);
    RUN(bad_values);
    RUN(userns_values);
    RUN(fstab);
    RUN(volumes);
    RUN(structure_errors);
    RUN(conditions);
    RUN(cross_reference_lines);
    RUN(env_file);
    RUN(secrets);
    RUN(secrets_stamp);
    RUN(all_errors_reported);
    RUN(hostile_bytes);
    RUN(key_table_is_complete);
    RUN(seccomp_profile_read_once);
    RUN(seccomp_profile_fstab_why);
    return unit_done();
}
