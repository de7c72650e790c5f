/* cli.c — keel's command line: a table of verbs, one function each.
 *
 * When the kernel starts keel as init (PID 1), there is no command line to
 * speak of: keel boots.  Otherwise argv[1] names the verb.
 */
#include "keel/cli.h"
#include "keel/client.h"
#include "keel/daemon.h"
#include "keel/boot.h"
#include "keel/bundle.h"
#include "keel/image.h"
#include "keel/import.h"
#include "keel/manifest.h"
#include "keel/output.h"
#include "keel/parse.h"
#include "keel/plan.h"
#include "keel/supervise.h"
#include "keel/userns.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define RUN_DIR "/run/keel"

struct verb {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *usage;
    const char *help;
};

static const struct verb *find_verb(const char *name);

static bool wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    return false;
}

static int usage_error(const struct verb *v)
{
    fprintf(stderr, "usage: keel %s %s\n", v->name, v->usage);
    return 2;
}

static int print_help(const struct verb *v)
{
    printf("usage: keel %s %s\n\n%s\n", v->name, v->usage, v->help);
    return 0;
}

/* When keel is rootless (userns_rootless): $XDG_RUNTIME_DIR into *dir, made
 * the place of the manifest's /run defaults; else *dir NULL.  -errno with e
 * filled when rootless without a usable one. */
static int use_runtime_dir(const char **dir, struct kerr *e)
{
    *dir = NULL;
    if (!userns_rootless())
        return 0;
    int r = userns_runtime_dir(dir, e);
    if (r == 0)
        manifest_set_runtime_dir(*dir);
    return r;
}

static int cmd_run(int argc, char **argv)
{
    const struct verb *v = find_verb("run");
    if (wants_help(argc, argv))
        return print_help(v);
    const char *run_dir = NULL;
    bool interfaces = false;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--run-dir") == 0 && i + 1 < argc)
            run_dir = argv[++i];
        else if (strcmp(argv[i], "--interfaces") == 0)
            interfaces = true;
        else
            return usage_error(v);
    }
    if (i + 1 != argc)
        return usage_error(v);
    if (geteuid() != 0) {
        fprintf(stderr, "keel: error: keel run needs root (namespaces, mounts, cgroups); without it: unshare "
                        "--user --map-root-user --mount --net keel run MANIFEST\n");
        return 1;
    }
    const char *xdg;
    struct kerr e = { 0 };
    if (use_runtime_dir(&xdg, &e) < 0 && !run_dir) {
        fprintf(stderr, "keel: error: cannot choose a run directory: keel may not write /run here (not root of "
                        "the initial user namespace) and %s; give --run-dir DIR (with [system] log_dir and "
                        "control), or set XDG_RUNTIME_DIR to a directory of yours with mode 0700\n", e.msg);
        return 1;
    }
    if (!run_dir && xdg) {
        static char xdg_run[PATH_MAX];
        snprintf(xdg_run, sizeof xdg_run, "%s/keel", xdg);
        run_dir = xdg_run;
    }
    if (!run_dir)
        run_dir = RUN_DIR;
    /* As keel as PID 1 (boot_early): the files keel makes for a container
     * (its /etc/hostname, /etc/hosts, /etc/resolv.conf, bound read-only)
     * and the container's own umask must not depend on the admin's shell,
     * whose umask 077 made them 0600, unreadable to a container's user. */
    umask(022);
    struct daemon_opts o = { .manifest = argv[i], .boot = false, .run_dir = run_dir, .interfaces = interfaces,
                             .argv = argv };
    return daemon_main(&o);
}

/* A user namespace whose host ids keel's own user namespace lacks (the
 * pool of userns = auto, an explicit map's): what keel run in this
 * namespace would refuse at the start (supervise.c ctr_prepare). */
static int check_userns_mapped(const struct manifest *m)
{
    size_t bad = 0;
    for (size_t k = 0; k < m->n_containers; k++) {
        const struct container_spec *c = &m->containers[k];
        struct kerr e = { 0 };
        if (c->userns != USERNS_NO && userns_possible(c, &e) < 0) {
            fprintf(stderr, "%s:%d: container '%s': %s\n", m->path, manifest_key_line(c, "userns"), c->name, e.msg);
            bad++;
        }
    }
    if (bad)
        fprintf(stderr, "keel: %zu error%s in %s\n", bad, bad == 1 ? "" : "s", m->path);
    return bad ? -EPERM : 0;
}

static int cmd_check(int argc, char **argv)
{
    const struct verb *v = find_verb("check");
    if (wants_help(argc, argv))
        return print_help(v);
    bool plan = false, keys = false, no_fs = false;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--plan") == 0)
            plan = true;
        else if (strcmp(argv[i], "--keys") == 0)
            keys = true;
        else if (strcmp(argv[i], "--no-fs") == 0)
            no_fs = true;
        else
            return usage_error(v);
    }
    if (keys) {
        manifest_print_keys(stdout);
        return 0;
    }
    if (i + 1 != argc)
        return usage_error(v);
    const char *xdg;
    struct kerr e = { 0 };
    (void)use_runtime_dir(&xdg, &e);   /* --plan shows the paths keel run would use */
    struct manifest *m = NULL;
    struct diag d = { 0 };
    /* Bounded: a path on a hung file system gets a message, not a hang. */
    int r = supervisor_load_bounded(argv[i], no_fs ? MANIFEST_NO_FS_CHECKS : 0, &m, &d);
    if (r == -ETIMEDOUT)
        r = -EINVAL;   /* its diag says why */
    if (r < 0 && r != -EINVAL) {
        /* Not a content problem: the file itself could not be read. */
        fprintf(stderr, "keel: error: cannot read %s: %s\n", argv[i], strerror(-r));
        diag_free(&d);
        return 1;
    }
    if (r < 0) {
        for (size_t k = 0; k < d.count; k++)
            fprintf(stderr, "%s\n", d.msgs[k]);
        fprintf(stderr, "keel: %zu error%s in %s\n", d.count, d.count == 1 ? "" : "s", argv[i]);
        diag_free(&d);
        return 2;
    }
    if (!no_fs && check_userns_mapped(m) < 0) {
        manifest_free(m);
        return 2;
    }
    char source[128];
    if (boot_manifest_source_of(argv[i], source, sizeof source))
        printf("# manifest %s, from the %s (as keel booted)\n", argv[i], source);
    if (plan)
        plan_print(m, stdout);
    else
        plan_print_summary(m, stdout);
    manifest_free(m);
    return 0;
}

static int cmd_import(int argc, char **argv)
{
    const struct verb *v = find_verb("import");
    if (wants_help(argc, argv))
        return print_help(v);
    struct import_opts o = { .limits = { .max_bytes = IMPORT_MAX_BYTES_DEFAULT, .max_entries = IMPORT_MAX_ENTRIES_DEFAULT } };
    const char *pos[2] = { NULL, NULL }, *platform = IMPORT_PLATFORM_NATIVE;
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        char why[PARSE_WHY_MAX] = "";
        if (strcmp(argv[i], "--name") == 0 && i + 1 < argc) {
            o.name = argv[++i];
        } else if (strcmp(argv[i], "--erofs") == 0) {
            o.erofs = true;
        } else if (strcmp(argv[i], "--platform") == 0 && i + 1 < argc) {
            platform = argv[++i];
        } else if (strcmp(argv[i], "--max-size") == 0 && i + 1 < argc) {
            int64_t sz = 0;
            if (parse_size(argv[++i], &sz, why) < 0 || sz <= 0) {
                fprintf(stderr, "keel: error: --max-size %s: %s\n", argv[i], why[0] ? why : "is zero");
                return 2;
            }
            o.limits.max_bytes = (uint64_t)sz;
        } else if (strcmp(argv[i], "--max-entries") == 0 && i + 1 < argc) {
            if (parse_u64(argv[++i], 1, UINT64_MAX, &o.limits.max_entries, why) < 0) {
                fprintf(stderr, "keel: error: --max-entries %s: %s\n", argv[i], why);
                return 2;
            }
        } else if (argv[i][0] == '-' || npos == 2) {
            return usage_error(v);
        } else {
            pos[npos++] = argv[i];
        }
    }
    if (npos != 2)
        return usage_error(v);
    o.source = pos[0];
    o.dest = pos[1];
    struct kerr err = { 0 };
    if (import_platform_parse(platform, &o.platform, &err) < 0) {
        fprintf(stderr, "keel: error: --platform: %s\n", err.msg);
        return 2;
    }
    char *image = NULL;
    if (import_run(&o, &image, &err) < 0) {
        /* The message may quote the image's own bytes (a member's name, a
         * config value): escaped, as a terminal would obey them. */
        char msg[4 * sizeof err.msg];
        msg[output_escape(err.msg, strlen(err.msg), msg, sizeof msg - 1)] = '\0';
        fprintf(stderr, "keel: error: cannot import %s: %s\n", o.source, msg);
        return 1;
    }
    printf("wrote %s (use it with: image = %.*s)\n", image, (int)(strlen(image) - strlen(IMAGE_SUFFIX)), image);
    free(image);
    return 0;
}

static int cmd_version(int argc, char **argv)
{
    printf("keel %s\n", KEEL_VERSION);
    return 0;
}

static int cmd_bundle(int argc, char **argv)
{
    const struct verb *v = find_verb("bundle");
    if (wants_help(argc, argv))
        return print_help(v);
    struct kerr e = { 0 };
    if (argc == 3 && strcmp(argv[1], "--keygen") == 0) {
        if (bundle_keygen(argv[2], &e) < 0) {
            fprintf(stderr, "keel: error: %s\n", e.msg);
            return 1;
        }
        printf("%s.key (secret: keep it off the appliance) and %s.pub (for [system] update_key)\n", argv[2],
               argv[2]);
        return 0;
    }
    const char *key = NULL;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--key") == 0 && i + 1 < argc)
            key = argv[++i];
        else
            return usage_error(v);
    }
    if (i + 2 != argc)
        return usage_error(v);
    if (bundle_write(argv[i], argv[i + 1], key, &e) < 0) {
        fprintf(stderr, "keel: error: %s\n", e.msg);
        return 1;
    }
    return 0;
}

static int cmd_help(int argc, char **argv);

static const struct verb verbs[] = {
    { "run", cmd_run, "[--run-dir DIR] [--interfaces] MANIFEST",
      "Supervise the containers of MANIFEST on this host (as root) until they exit or keel\n"
      "receives SIGTERM or SIGINT, which stops them in reverse dependency order.\n"
      "The [interface] sections are the host's business and are not applied, unless\n"
      "--interfaces makes keel configure them (static or DHCP) as it does at boot.\n"
      "The run directory is /run/keel, or without root over /run (unshare --user\n"
      "--map-root-user) $XDG_RUNTIME_DIR/keel, unless --run-dir DIR names it.\n"
      "Exit status: the main container's, or 0 when all exited 0." },
    { "check", cmd_check, "[--plan] [--no-fs] MANIFEST | --keys",
      "Validate MANIFEST. Prints the normalized manifest (or, with --plan, what keel will do\n"
      "for each container in start order) and exits 0; or prints FILE:LINE: message for\n"
      "every error and exits 2. --no-fs reads no path the manifest names (layers, images...).\n"
      "For the manifest keel booted from, a first line names where it came from (kernel\n"
      "command line, fw_cfg, config disk or the image).\n"
      "--keys prints every manifest key with its type, default and meaning." },
    { "bundle", cmd_bundle, "[--key ED25519_KEY] MANIFEST OUT | --keygen PREFIX",
      "Write OUT, a payload bundle for keel update: the checked MANIFEST and every layer it\n"
      "names (directories packed as erofs images with mkfs.erofs, image files as they are),\n"
      "with an index of their sha256 digests, signed with ED25519_KEY when given.\n"
      "--keygen writes a new key pair, PREFIX.key and PREFIX.pub (hex)." },
    { "import", cmd_import,
      "[--name NAME] [--erofs] [--platform OS/ARCH[/VARIANT]] [--max-size SIZE] [--max-entries N] SOURCE DEST",
      "Import an image: SOURCE is an OCI image layout directory, an OCI archive (a tar of\n"
      "one) or `docker save` output.  Checks every blob's sha256, extracts each layer once\n"
      "into DEST/layers/sha256-HEX (shared between images) and writes DEST/NAME.image, which\n"
      "a manifest names with image = DEST/NAME.  NAME defaults to the image's tag, else its\n"
      "digest.  --erofs also writes each layer as an erofs image (mkfs.erofs) and lists\n"
      "those.  From a multi-platform image it takes the --platform one (default\n"
      IMPORT_PLATFORM_NATIVE ", this build's) and refuses an image for another.\n"
      "Limits over all layers: --max-size (default 16G of file data), --max-entries\n"
      "(default 1000000).  Runs as the invoking user; as root it keeps the files' owners.\n"
      "See docs/images.md." },
    { "version", cmd_version, "", "Print keel's version." },
    { "help", cmd_help, "[COMMAND]", "Show help for keel or one of its commands." },
    { NULL, NULL, NULL, NULL },
};

static const struct verb *find_verb(const char *name)
{
    for (const struct verb *v = verbs; v->name; v++)
        if (strcmp(v->name, name) == 0)
            return v;
    return NULL;
}

static int cmd_help(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
        argc = 1;   /* keel help --help: the overview */
    if (argc > 1) {
        const struct verb *v = find_verb(argv[1]);
        for (const struct client_verb *cv = client_verbs; !v && cv->name; cv++)
            if (strcmp(cv->name, argv[1]) == 0) {
                char *args[] = { argv[1], (char *)"--help", NULL };
                return cv->fn(2, args);
            }
        if (!v) {
            fprintf(stderr, "keel: error: unknown command '%s'\n", argv[1]);
            return 2;
        }
        return print_help(v);
    }
    printf("keel — a PID-1 init and single-app appliance launcher\n\n"
           "As init (PID 1) keel boots the appliance described by /etc/keel/keel.ini.\n"
           "Otherwise:\n\n");
    for (const struct verb *v = verbs; v->name; v++)
        printf("  keel %-8s %s\n", v->name, v->usage);
    printf("\nClient commands (talk to a running keel; -H URL or KEEL_HOST picks it,\n"
           "default unix:///run/keel.sock, without root $XDG_RUNTIME_DIR/keel.sock):\n\n");
    for (const struct client_verb *cv = client_verbs; cv->name; cv++)
        printf("  keel %-8s %s\n", cv->name, cv->help);
    printf("\nkeel COMMAND --help shows the help of a command.\n");
    return 0;
}

bool cli_is_verb(const char *name)
{
    if (find_verb(name))
        return true;
    for (const struct client_verb *cv = client_verbs; cv->name; cv++)
        if (strcmp(cv->name, name) == 0)
            return true;
    return strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "--version") == 0 ||
           strcmp(name, "-H") == 0;
}

int cli_main(int argc, char **argv)
{
    if (argc < 2) {
        cmd_help(0, NULL);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
        return cmd_help(0, NULL);
    if (strcmp(argv[1], "--version") == 0)
        return cmd_version(0, NULL);
    /* keel -H URL VERB ...: the server for every client verb. */
    if (argc > 3 && strcmp(argv[1], "-H") == 0) {
        if (setenv("KEEL_HOST", argv[2], 1) < 0) {
            fprintf(stderr, "keel: error: cannot set KEEL_HOST\n");
            return 1;
        }
        argv += 2;
        argc -= 2;
    }
    const struct verb *v = find_verb(argv[1]);
    if (v)
        return v->fn(argc - 1, argv + 1);
    for (const struct client_verb *cv = client_verbs; cv->name; cv++)
        if (strcmp(cv->name, argv[1]) == 0)
            return cv->fn(argc - 1, argv + 1);
    fprintf(stderr, "keel: error: unknown command '%s' (keel help lists them)\n", argv[1]);
    return 2;
}
