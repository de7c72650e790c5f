/* Unit tests for the manifest diff (keel apply's planner). */
#include "keel/manifest_diff.h"
#include "keel/util.h"
#include "unit.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct manifest *load(const char *text)
{
    struct manifest *m = NULL;
    struct diag d = { 0 };
    if (manifest_load_buffer("t.ini", text, strlen(text), MANIFEST_NO_FS_CHECKS, &m, &d) < 0)
        for (size_t i = 0; i < d.count; i++)
            fprintf(stderr, "  unexpected: %s\n", d.msgs[i]);
    diag_free(&d);
    return m;
}

static const struct mdiff_ctr *entry(const struct mdiff *d, const char *name)
{
    for (size_t i = 0; i < d->n_ctrs; i++)
        if (strcmp(d->ctrs[i].name, name) == 0)
            return &d->ctrs[i];
    return NULL;
}

#define BASE_DB "[container db]\nlayers = /l\ncommand = /bin/db\n"
#define BASE_WEB "[container web]\nlayers = /l\ncommand = /bin/web\ndepends = db\nnetwork = bridge\nports = 8080:80\n"

TEST(identical_is_empty)
{
    struct manifest *a = load(BASE_DB BASE_WEB), *b = load(BASE_DB BASE_WEB);
    struct mdiff d;
    CHECK(a && b);
    if (!a || !b)
        return;
    CHECK_INT(manifest_diff(a, b, &d), 0);
    CHECK(manifest_diff_empty(&d));
    CHECK_INT(d.n_ctrs, 2);
    CHECK_STR(d.reboot, "");
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    manifest_diff_print(&d, f);
    fclose(f);
    CHECK(strstr(text, "no changes") != NULL);
    free(text);
    manifest_diff_free(&d);
    manifest_free(a);
    manifest_free(b);
}

TEST(added_removed_changed_inplace)
{
    struct manifest *a = load(BASE_DB BASE_WEB "[container old]\nlayers = /l\ncommand = /bin/old\n"
                              "[container lim]\nlayers = /l\ncommand = /x\nmemory = 64M\n");
    struct manifest *b = load("[container db]\nlayers = /l\ncommand = /bin/db --new\n" BASE_WEB
                              "[container new]\nlayers = /l\ncommand = /bin/new\n"
                              "[container lim]\nlayers = /l\ncommand = /x\nmemory = 128M\npids = 50\n"
                              "restart = always\n");
    struct mdiff d;
    CHECK(a && b);
    if (!a || !b)
        return;
    CHECK_INT(manifest_diff(a, b, &d), 0);
    CHECK(!manifest_diff_empty(&d));
    const struct mdiff_ctr *e = entry(&d, "db");
    CHECK(e && e->kind == MDIFF_CHANGED);
    CHECK(e && strcmp(e->keys, "command") == 0);
    e = entry(&d, "web");
    CHECK(e && e->kind == MDIFF_UNCHANGED);   /* its dependency restarts; it does not */
    e = entry(&d, "new");
    CHECK(e && e->kind == MDIFF_ADDED && e->old_index < 0);
    e = entry(&d, "old");
    CHECK(e && e->kind == MDIFF_REMOVED && e->new_index < 0);
    e = entry(&d, "lim");
    CHECK(e && e->kind == MDIFF_INPLACE);
    CHECK(e && strcmp(e->keys, "restart memory pids") == 0);
    /* The removed ones come last, after the new manifest's start order. */
    CHECK_STR(d.ctrs[d.n_ctrs - 1].name, "old");
    CHECK_STR(d.reboot, "");
    manifest_diff_free(&d);
    manifest_free(a);
    manifest_free(b);
}

TEST(joiner_of_restarted_restarts)
{
    struct manifest *a = load("[container p]\nlayers = /l\ncommand = /a\n"
                              "[container j]\nlayers = /l\ncommand = /j\nnetwork = container:p\n");
    struct manifest *b = load("[container p]\nlayers = /l\ncommand = /b\n"
                              "[container j]\nlayers = /l\ncommand = /j\nnetwork = container:p\n");
    struct mdiff d;
    CHECK(a && b);
    if (!a || !b)
        return;
    CHECK_INT(manifest_diff(a, b, &d), 0);
    const struct mdiff_ctr *e = entry(&d, "j");
    CHECK(e && e->kind == MDIFF_CHANGED && strstr(e->why, "joins the network of p") != NULL);
    manifest_diff_free(&d);
    manifest_free(a);
    manifest_free(b);
}

TEST(system_and_networks_need_a_reboot)
{
    struct manifest *a = load("[system]\nmodules = veth\n" BASE_DB);
    struct manifest *b = load("[system]\nmodules = veth bridge\nhostname = box\n"
                              "[network lan]\nsubnet = 10.9.0.0/24\n" BASE_DB);
    struct mdiff d;
    CHECK(a && b);
    if (!a || !b)
        return;
    CHECK_INT(manifest_diff(a, b, &d), 0);
    CHECK(strstr(d.reboot, "[system] hostname") != NULL);
    CHECK(strstr(d.reboot, "[system] modules") != NULL);
    CHECK(strstr(d.reboot, "[network") == NULL);   /* networks are applied live */
    CHECK(d.networks_changed);
    CHECK_INT(d.n_nets, 1);
    CHECK(d.n_nets == 1 && strcmp(d.nets[0].name, "lan") == 0 && d.nets[0].kind == MDIFF_ADDED);
    CHECK(!manifest_diff_empty(&d));   /* a new network is something to do */
    manifest_diff_free(&d);
    manifest_free(a);
    manifest_free(b);
}

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* With the file checks (as keel apply loads): an env_file's or a secret's
 * content that changed at the same path restarts the container, and the plan
 * says which file; the env = lines are not blamed; the same content keeps it. */
TEST(file_content_changes_restart)
{
    char dir[] = "/tmp/keel-mdiff-XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(!"mkdtemp");
        return;
    }
    char *layer = xasprintf("%s/layer", dir), *envf = xasprintf("%s/app.env", dir),
         *sec = xasprintf("%s/token", dir);
    CHECK(mkdir(layer, 0755) == 0);
    put(envf, "A=1\n");
    put(sec, "s3cret\n");
    char *text = xasprintf("[container c]\nlayers = %s\ncommand = /bin/c\nenv = B=2\nenv_file = %s\n"
                           "secret = %s:/run/token\n[container k]\nlayers = %s\ncommand = /bin/k\n",
                           layer, envf, sec, layer);
    struct manifest *a = NULL, *same = NULL, *b = NULL, *b2 = NULL;
    struct diag dg = { 0 };
    CHECK_INT(manifest_load_buffer("t.ini", text, strlen(text), 0, &a, &dg), 0);
    CHECK_INT(manifest_load_buffer("t.ini", text, strlen(text), 0, &same, &dg), 0);
    put(envf, "A=2\n");
    CHECK_INT(manifest_load_buffer("t.ini", text, strlen(text), 0, &b, &dg), 0);
    put(sec, "other\n");
    CHECK_INT(manifest_load_buffer("t.ini", text, strlen(text), 0, &b2, &dg), 0);
    diag_free(&dg);
    struct mdiff d;
    if (a && same && manifest_diff(a, same, &d) == 0) {
        CHECK(manifest_diff_empty(&d));   /* the control: same content, nothing to do */
        manifest_diff_free(&d);
    }
    if (a && b && manifest_diff(a, b, &d) == 0) {
        const struct mdiff_ctr *e = entry(&d, "c");
        CHECK(e && e->kind == MDIFF_CHANGED);
        CHECK(e && strcmp(e->keys, "env_file") == 0);   /* not env: B=2 is the same */
        char *want = xasprintf("env_file %s changed", envf);
        CHECK(e && strcmp(e->why, want) == 0);
        free(want);
        e = entry(&d, "k");
        CHECK(e && e->kind == MDIFF_UNCHANGED);
        manifest_diff_free(&d);
    }
    if (b && b2 && manifest_diff(b, b2, &d) == 0) {
        const struct mdiff_ctr *e = entry(&d, "c");
        CHECK(e && e->kind == MDIFF_CHANGED && strcmp(e->keys, "secret") == 0);
        char *want = xasprintf("secret %s changed", sec);
        CHECK(e && strcmp(e->why, want) == 0);
        free(want);
        char *plan = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&plan, &len);
        manifest_diff_print(&d, f);
        fclose(f);
        want = xasprintf("restart   c: secret; secret %s changed\n", sec);
        CHECK(plan && strstr(plan, want) != NULL);
        free(want);
        free(plan);
        manifest_diff_free(&d);
    }
    manifest_free(a);
    manifest_free(same);
    manifest_free(b);
    manifest_free(b2);
    unlink(envf);
    unlink(sec);
    rmdir(layer);
    rmdir(dir);
    free(text);
    free(layer);
    free(envf);
    free(sec);
}

/* Whether the printed plan of D has WANT in it. */
static bool plan_has(const struct mdiff *d, const char *want)
{
    char *plan = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&plan, &len);
    if (!f)
        return false;
    manifest_diff_print(d, f);
    fclose(f);
    bool found = plan && strstr(plan, want) != NULL;
    free(plan);
    return found;
}

/* A seccomp profile's content changed at the same path restarts the container
 * (its filter is compiled at the start), said in the plan; the same content
 * keeps it.  A secret on a [system] fstab file system is not read by the
 * load (not mounted yet at boot) but by manifest_digest_mounted, after which
 * its change restarts the container too; before, both are unknown and equal
 * (the old blind spot: no restart). */
TEST(profile_and_mounted_secret_changes_restart)
{
    char dir[] = "/tmp/keel-mdiff-XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(!"mkdtemp");
        return;
    }
    char *layer = xasprintf("%s/layer", dir), *prof = xasprintf("%s/p.seccomp", dir),
         *data = xasprintf("%s/data", dir), *sec = xasprintf("%s/data/token", dir);
    CHECK(mkdir(layer, 0755) == 0);
    CHECK(mkdir(data, 0755) == 0);
    put(prof, "default allow\nerrno mkdir EPERM\n");
    put(sec, "tok-1\n");
    char *text = xasprintf("[system]\nfstab = /dev/vdb %s ext4\n[container c]\nlayers = %s\ncommand = /bin/c\n"
                           "seccomp = %s\nsecret = %s:/run/token\n", data, layer, prof, sec);
    struct manifest *a = NULL, *same = NULL, *b = NULL, *c2 = NULL, *c3 = NULL;
    struct diag dg = { 0 };
    CHECK_INT(manifest_load_buffer("t.ini", text, strlen(text), 0, &a, &dg), 0);
    CHECK_INT(manifest_load_buffer("t.ini", text, strlen(text), 0, &same, &dg), 0);
    put(prof, "default allow\nerrno rmdir EPERM\n");
    CHECK_INT(manifest_load_buffer("t.ini", text, strlen(text), 0, &b, &dg), 0);
    put(sec, "tok-2\n");
    CHECK_INT(manifest_load_buffer("t.ini", text, strlen(text), 0, &c2, &dg), 0);
    CHECK_INT(manifest_load_buffer("t.ini", text, strlen(text), 0, &c3, &dg), 0);
    diag_free(&dg);
    /* The text the filter is compiled from is the one digested at the load,
     * kept: the file's later content is not a's. */
    CHECK(a && a->containers[0].seccomp_text &&
          strcmp(a->containers[0].seccomp_text, "default allow\nerrno mkdir EPERM\n") == 0);
    struct mdiff d;
    if (a && same && manifest_diff(a, same, &d) == 0) {
        CHECK(manifest_diff_empty(&d));   /* the control: same content, nothing to do */
        manifest_diff_free(&d);
    }
    if (a && b && manifest_diff(a, b, &d) == 0) {
        const struct mdiff_ctr *e = entry(&d, "c");
        CHECK(e && e->kind == MDIFF_CHANGED && strcmp(e->keys, "seccomp") == 0);
        char *want = xasprintf("restart   c: seccomp; seccomp profile %s changed\n", prof);
        CHECK(plan_has(&d, want));
        free(want);
        manifest_diff_free(&d);
    }
    /* The secret on the fstab file system: unread by the load. */
    CHECK(b && !b->containers[0].secrets[0].digest.known);
    if (b && c2 && manifest_diff(b, c2, &d) == 0) {
        CHECK(manifest_diff_empty(&d));   /* unknown both: what an apply saw before */
        manifest_diff_free(&d);
    }
    if (b && c2 && c3) {
        /* b digested when tok-1 was there (put back for it), c2 and c3 with tok-2. */
        put(sec, "tok-1\n");
        manifest_digest_mounted(b);
        put(sec, "tok-2\n");
        manifest_digest_mounted(c2);
        manifest_digest_mounted(c3);
        CHECK(b->containers[0].secrets[0].digest.known);
        if (manifest_diff(c2, c3, &d) == 0) {
            CHECK(manifest_diff_empty(&d));   /* the control: digested, the same content */
            manifest_diff_free(&d);
        }
        if (manifest_diff(b, c2, &d) == 0) {
            const struct mdiff_ctr *e = entry(&d, "c");
            CHECK(e && e->kind == MDIFF_CHANGED && strcmp(e->keys, "secret") == 0);
            char *want = xasprintf("secret %s changed", sec);
            CHECK(e && strcmp(e->why, want) == 0);
            free(want);
            manifest_diff_free(&d);
        }
    }
    manifest_free(a);
    manifest_free(same);
    manifest_free(b);
    manifest_free(c2);
    manifest_free(c3);
    unlink(prof);
    unlink(sec);
    rmdir(data);
    rmdir(layer);
    rmdir(dir);
    free(text);
    free(layer);
    free(prof);
    free(data);
    free(sec);
}

/* [network] changes, key by key (the table in docs/operations.md): the keys
 * a bridge and its containers' eth0 are made from make it again and restart
 * its containers (and their joiners); the rules' keys change in place; a new
 * network is added, a gone one removed; containers elsewhere are kept. */
TEST(network_changes)
{
    static const struct {
        const char *line;
        enum mdiff_kind kind;
        const char *keys;
    } rows[] = {
        { "subnet = 10.9.1.0/24", MDIFF_CHANGED, "subnet" },   /* the default gateway follows: not named */
        { "gateway = 10.9.0.254", MDIFF_CHANGED, "gateway" },
        { "mtu = 1400", MDIFF_CHANGED, "mtu" },
        { "isolate = yes", MDIFF_CHANGED, "isolate" },
        { "subnet6 = fd00:9::/64", MDIFF_CHANGED, "subnet6" },
        { "host_ports = 53/udp", MDIFF_INPLACE, "host_ports" },
        { "lan = no", MDIFF_INPLACE, "lan" },
        { "link_local = yes", MDIFF_INPLACE, "link_local" },
        { "host_ports = 53/udp\nmtu = 9000", MDIFF_CHANGED, "mtu host_ports" },
    };
    const char *ctrs = "[container w]\nlayers = /l\ncommand = /w\nnetwork = bridge\nbridge = lan\n"
                       "[container j]\nlayers = /l\ncommand = /j\nnetwork = container:w\n"
                       "[container o]\nlayers = /l\ncommand = /o\nnetwork = bridge\n";
    for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
        char *at = xasprintf("[network lan]\nsubnet = 10.9.0.0/24\n%s", ctrs);
        char *bt = xasprintf("[network lan]\n%s%s\n%s", strncmp(rows[i].line, "subnet =", 8) ? "subnet = 10.9.0.0/24\n" : "",
                             rows[i].line, ctrs);
        struct manifest *a = load(at), *b = load(bt);
        struct mdiff d;
        CHECK(a && b);
        if (a && b && manifest_diff(a, b, &d) == 0) {
            const struct mdiff_net *n = manifest_diff_find_net(&d, "lan");
            if (!n || n->kind != rows[i].kind || strcmp(n->keys, rows[i].keys) != 0)
                fprintf(stderr, "  %s: got %s \"%s\"\n", rows[i].line, n ? mdiff_kind_name(n->kind) : "none",
                        n ? n->keys : "");
            CHECK(n && n->kind == rows[i].kind && strcmp(n->keys, rows[i].keys) == 0);
            const struct mdiff_ctr *w = entry(&d, "w"), *j = entry(&d, "j"), *o = entry(&d, "o");
            enum mdiff_kind want = rows[i].kind == MDIFF_CHANGED ? MDIFF_CHANGED : MDIFF_UNCHANGED;
            CHECK(w && w->kind == want && j && j->kind == want);
            CHECK(o && o->kind == MDIFF_UNCHANGED);   /* on keel0 */
            if (w && want == MDIFF_CHANGED)
                CHECK(strncmp(w->why, "network lan is made again (", 27) == 0);
            CHECK_STR(d.reboot, "");
            manifest_diff_free(&d);
        }
        manifest_free(a);
        manifest_free(b);
        free(at);
        free(bt);
    }
    /* Gone: its container moved to keel0 (restarted by its own key), the plan
     * names both. */
    struct manifest *a = load("[network lan]\nsubnet = 10.9.0.0/24\n[container w]\nlayers = /l\ncommand = /w\n"
                              "network = bridge\nbridge = lan\n");
    struct manifest *b = load("[container w]\nlayers = /l\ncommand = /w\nnetwork = bridge\n");
    struct mdiff d;
    if (a && b && manifest_diff(a, b, &d) == 0) {
        const struct mdiff_net *n = manifest_diff_find_net(&d, "lan");
        CHECK(n && n->kind == MDIFF_REMOVED);
        const struct mdiff_ctr *w = entry(&d, "w");
        CHECK(w && w->kind == MDIFF_CHANGED && strcmp(w->keys, "bridge") == 0);
        char *plan = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&plan, &len);
        manifest_diff_print(&d, f);
        fclose(f);
        CHECK(plan && strstr(plan, "remove    network lan\n") != NULL);
        free(plan);
        manifest_diff_free(&d);
    }
    manifest_free(a);
    manifest_free(b);
}

/* Every container key of the key table, with a value that differs from the
 * base's, and the class its change must get.  A key added to the table
 * without a row here fails this test: an apply must never ignore a key. */
static const struct {
    const char *key, *line;
    enum mdiff_kind kind;
    const char *base;    /* in both manifests, or NULL */
} key_changes[] = {
    { "layers", "layers = /other", MDIFF_CHANGED, NULL },
    { "upper", "upper = tmpfs", MDIFF_CHANGED, NULL },
    { "upper_size", "upper_size = 1M", MDIFF_CHANGED, "upper = tmpfs" },
    { "command", "command = /bin/other", MDIFF_CHANGED, NULL },
    { "env", "env = A=1", MDIFF_CHANGED, NULL },
    { "workdir", "workdir = /tmp", MDIFF_CHANGED, NULL },
    { "user", "user = 1000", MDIFF_CHANGED, NULL },
    { "hostname", "hostname = other", MDIFF_CHANGED, NULL },
    { "mount", "mount = /tmp:/mnt", MDIFF_CHANGED, NULL },
    { "device", "device = /dev/null:/dev/x", MDIFF_CHANGED, NULL },
    { "env_file", NULL, MDIFF_CHANGED, NULL },     /* needs a file on disk: not loaded here; compared by path */
    { "secret", NULL, MDIFF_CHANGED, NULL },       /* needs a file on disk: not loaded here */
    { "image", NULL, MDIFF_CHANGED, NULL },        /* needs a .image file on disk: not loaded here; compared by path */
    { "network", "network = host", MDIFF_CHANGED, NULL },
    { "bridge", "bridge = other", MDIFF_CHANGED, "network = bridge" },
    { "ip", "ip = 172.30.0.50", MDIFF_CHANGED, "network = bridge" },
    { "ip6", "ip6 = fd00:30::50", MDIFF_CHANGED, "network = bridge\nbridge = v6" },
    { "ports", "ports = 81:80", MDIFF_CHANGED, "network = bridge" },
    { "net_rate", "net_rate = 1mbit", MDIFF_CHANGED, "network = bridge" },
    { "restart", "restart = always", MDIFF_INPLACE, NULL },
    { "restart_delay", "restart_delay = 1s", MDIFF_INPLACE, NULL },
    { "restart_delay_max", "restart_delay_max = 1m", MDIFF_INPLACE, NULL },
    { "restart_reset", "restart_reset = 1m", MDIFF_INPLACE, NULL },
    { "on_crashloop", "on_crashloop = reboot", MDIFF_INPLACE, NULL },
    { "depends", "depends = clock", MDIFF_INPLACE, NULL },
    { "stop_signal", "stop_signal = INT", MDIFF_INPLACE, NULL },
    { "stop_timeout", "stop_timeout = 3s", MDIFF_INPLACE, NULL },
    { "capabilities", "capabilities = CAP_CHOWN", MDIFF_CHANGED, NULL },
    { "ambient_capabilities", "ambient_capabilities = CAP_NET_BIND_SERVICE", MDIFF_CHANGED, NULL },
    { "main", "main = yes", MDIFF_INPLACE, NULL },
    { "no_new_privs", "no_new_privs = no", MDIFF_CHANGED, NULL },
    { "seccomp", "seccomp = unconfined", MDIFF_CHANGED, NULL },
    { "nested_userns", "nested_userns = yes", MDIFF_CHANGED, NULL },
    { "rlimit", "rlimit = nproc=10", MDIFF_CHANGED, NULL },
    { "userns", "userns = auto", MDIFF_CHANGED, NULL },
    { "memory", "memory = 10M", MDIFF_INPLACE, NULL },
    { "memory_high", "memory_high = 10M", MDIFF_INPLACE, NULL },
    { "memory_swap", "memory_swap = 10M", MDIFF_INPLACE, NULL },
    { "cpus", "cpus = 0.5", MDIFF_INPLACE, NULL },
    { "cpu_weight", "cpu_weight = 50", MDIFF_INPLACE, NULL },
    { "cpuset", "cpuset = 0", MDIFF_INPLACE, NULL },
    { "pids", "pids = 20", MDIFF_INPLACE, NULL },
    { "io_weight", "io_weight = 50", MDIFF_INPLACE, NULL },
    { "io_read_bps", "io_read_bps = /dev/null 1M", MDIFF_INPLACE, NULL },
    { "io_write_bps", "io_write_bps = /dev/null 1M", MDIFF_INPLACE, NULL },
    { "io_read_iops", "io_read_iops = /dev/null 100", MDIFF_INPLACE, NULL },
    { "io_write_iops", "io_write_iops = /dev/null 100", MDIFF_INPLACE, NULL },
    { "oom_score_adj", "oom_score_adj = 100", MDIFF_CHANGED, NULL },
    { "health", "health = tcp:80", MDIFF_CHANGED, NULL },
    { "health_interval", "health_interval = 7s", MDIFF_CHANGED, "health = tcp:80" },
    { "health_timeout", "health_timeout = 2s", MDIFF_CHANGED, "health = tcp:80" },
    { "health_retries", "health_retries = 9", MDIFF_CHANGED, "health = tcp:80" },
    { "health_start_period", "health_start_period = 9s", MDIFF_CHANGED, "health = tcp:80" },
    { "on_unhealthy", "on_unhealthy = none", MDIFF_INPLACE, "health = tcp:80" },
    { "ready", "ready = notify", MDIFF_CHANGED, NULL },
    { "start_timeout", "start_timeout = 9s", MDIFF_INPLACE, "depends = clock" },
    /* How the next change is carried out: nothing to restart for. */
    { "update", "update = start-first", MDIFF_INPLACE, "network = bridge" },
    /* A standby is prepared from the spec in force: a new instance. */
    { "standby", "standby = yes", MDIFF_CHANGED, NULL },
};

TEST(every_container_key_is_compared)
{
    char *keys = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&keys, &len);
    manifest_print_keys(f);
    fclose(f);
    /* Every container key of the table has a row. */
    for (char *line = keys, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (strncmp(line, "container\t", 10) != 0)
            continue;
        char *key = line + 10, *tab = strchr(key, '\t');
        if (tab)
            *tab = '\0';
        bool found = false;
        for (size_t i = 0; i < ARRAY_SIZE(key_changes) && !found; i++)
            found = strcmp(key_changes[i].key, key) == 0;
        if (!found)
            fprintf(stderr, "  container key %s has no row in key_changes\n", key);
        CHECK(found);
    }
    free(keys);

    for (size_t i = 0; i < ARRAY_SIZE(key_changes); i++) {
        if (!key_changes[i].line)
            continue;
        const char *k = key_changes[i].key, *base = key_changes[i].base ? key_changes[i].base : "";
        /* The base's layers and command, unless the row changes them. */
        const char *layers = strcmp(k, "layers") ? "layers = /l\n" : "";
        const char *command = strcmp(k, "command") ? "command = /bin/c\n" : "";
        char *atext = xasprintf("[network other]\nsubnet = 10.8.0.0/24\n[network v6]\nsubnet = 10.9.0.0/24\nsubnet6 = fd00:30::/64\n[container c]\nlayers = /l\n"
                                "command = /bin/c\n%s\n", base);
        char *text = xasprintf("[network other]\nsubnet = 10.8.0.0/24\n[network v6]\nsubnet = 10.9.0.0/24\nsubnet6 = fd00:30::/64\n[container c]\n%s%s%s\n%s\n", layers,
                               command, base, key_changes[i].line);
        struct manifest *a = load(atext);
        struct manifest *b = load(text);
        CHECK(a != NULL);
        if (!b)
            fprintf(stderr, "  key %s: the sample does not load\n", key_changes[i].key);
        CHECK(b != NULL);
        struct mdiff d;
        if (a && b && manifest_diff(a, b, &d) == 0) {
            const struct mdiff_ctr *e = entry(&d, "c");
            bool named = false;
            if (e) {
                /* Whole words of the key list. */
                char buf[sizeof e->keys + 2];
                snprintf(buf, sizeof buf, " %s ", e->keys);
                char want[64];
                snprintf(want, sizeof want, " %s ", key_changes[i].key);
                named = strstr(buf, want) != NULL;
            }
            if (!e || !named || e->kind != key_changes[i].kind)
                fprintf(stderr, "  key %s: got \"%s\" (%s)\n", key_changes[i].key, e ? e->keys : "?",
                        e ? mdiff_kind_name(e->kind) : "?");
            CHECK(e && named && e->kind == key_changes[i].kind);
            manifest_diff_free(&d);
        }
        manifest_free(a);
        manifest_free(b);
        free(atext);
        free(text);
    }
}

int main(void)
{
    RUN(identical_is_empty);
    RUN(added_removed_changed_inplace);
    RUN(joiner_of_restarted_restarts);
    RUN(system_and_networks_need_a_reboot);
    RUN(every_container_key_is_compared);
    RUN(file_content_changes_restart);
    RUN(profile_and_mounted_secret_changes_restart);
    RUN(network_changes);
    return unit_done();
}
