/* manifest.h — the appliance manifest: an INI file parsed by inih into a typed,
 * validated `struct manifest`.
 *
 * Pipeline: text --parse--> sections and keys (one table of keys drives the
 * parser, `keel check --keys` and the docs test) --validate--> cross-field
 * rules (names, dependencies, ports, addresses) --> a manifest that is applied
 * whole or not at all.
 *
 * Errors are collected, not fatal on the first: manifest_load() returns
 * -EINVAL and fills `struct diag` with one "FILE:LINE: message" per problem.
 * The manifest and everything it points to is owned by the manifest and freed
 * by manifest_free().  Nothing in this module touches the system except
 * reading the manifest file and stat()ing the paths it names.
 */
#ifndef KEEL_MANIFEST_H
#define KEEL_MANIFEST_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "keel/fstab.h"
#include "keel/idmap.h"
#include "keel/parse.h"

#define MANIFEST_DEFAULT_PATH "/etc/keel/keel.ini"
/* Upper bound of the number of keys in the key table (manifest_keys.c
 * asserts at compile time that the table fits): each section's key_line
 * array is indexed by a key's position in the table. */
#define MANIFEST_KEYS_MAX 128

/* Collected diagnostics, each a complete "FILE:LINE: message". */
struct diag {
    char **msgs;    /* NULL-terminated, owned */
    size_t count;   /* messages kept (at most DIAG_MAX + 1: the last one says how many more) */
    size_t cap;
    size_t dropped; /* problems past DIAG_MAX, counted but not kept */
};
#define DIAG_MAX 1000
void diag_add(struct diag *d, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void diag_free(struct diag *d);

/* What a container took from its `image` (struct container_spec.from_image). */
#define CON_FROM_IMAGE_LAYERS      0x01
#define CON_FROM_IMAGE_COMMAND     0x02   /* Entrypoint, Cmd or both */
#define CON_FROM_IMAGE_ENV         0x04
#define CON_FROM_IMAGE_WORKDIR     0x08
#define CON_FROM_IMAGE_USER        0x10
#define CON_FROM_IMAGE_STOP_SIGNAL 0x20

enum restart_policy { RESTART_NO, RESTART_ON_FAILURE, RESTART_ALWAYS };
enum net_mode { NET_NONE, NET_HOST, NET_BRIDGE, NET_CONTAINER };
enum power_action { POWER_NONE, POWER_POWEROFF, POWER_REBOOT, POWER_HALT, POWER_STAY, POWER_SHELL, POWER_RESTART };
enum dep_condition { DEP_STARTED, DEP_HEALTHY, DEP_READY };
enum ready_mode { READY_NONE, READY_NOTIFY, READY_FD };
enum health_kind { HEALTH_NONE, HEALTH_CMD, HEALTH_TCP };
enum seccomp_mode { SECCOMP_DEFAULT, SECCOMP_UNCONFINED, SECCOMP_FILE };

struct bind_mount {
    char *source;    /* host path, absolute (for volume:NAME/SUB, MANIFEST_VOLUMES_DIR/NAME/SUB) */
    char *volume;    /* volume:NAME/SUB: NAME, else NULL */
    char *volume_sub;   /* volume:NAME/SUB: SUB ("" for the whole volume) */
    char *target;    /* path inside the container, absolute */
    bool readonly;
    int line;
};

/* The sha256 of a file's content when the manifest was loaded (with the
 * file checks): `keel apply` compares it to notice a file changed at the
 * same path (env_file, secret, seccomp profile).  It stays in keel's memory,
 * never printed.  A file on a [system] fstab file system or a volume is not
 * read by the load (they are mounted later): manifest_digest_mounted. */
struct file_digest {
    bool known;                    /* false: not read (keel check --no-fs, not mounted yet, unreadable) */
    unsigned char sha256[32];
};

/* env_file = PATH (its line in the manifest): read by the validation. */
struct env_file {
    char *path;
    int line;
    struct file_digest digest;
};

/* secret = SRC:DST[:UID:GID:MODE]: SRC copied at each start into the
 * container's own tmpfs, bound read-only at DST (container.c, mount.c). */
struct secret_spec {
    char *source;    /* host path, absolute */
    char *target;    /* path inside the container, absolute */
    uint32_t uid, gid;   /* the container's ids (default 0:0) */
    unsigned mode;   /* default 0400 */
    int line;
    struct file_digest digest;   /* of SRC when the manifest was loaded */
    bool remote;     /* SRC is on a network or FUSE file system (statfs, where digested) */
};
#define SECRET_SIZE_MAX (1u << 20)   /* bytes per secret */

struct port_map {
    struct in_addr host_ip;   /* INADDR_ANY unless HOST_IP given */
    uint16_t host_port;
    uint16_t container_port;
    int proto;                /* IPPROTO_TCP or IPPROTO_UDP */
    int line;
};

struct io_limit {
    char *device;     /* path as written */
    uint64_t value;   /* bytes/s, iops or weight */
    int line;
};

/* System conditions a container can wait for with `depends = NAME`, beside
 * other containers: names reserved for them, never container names.  Who sets
 * each is the daemon's business (the supervisor's conditions_pending); one
 * nothing would set is met from the start. */
#define KEEL_COND_NETWORK_ONLINE (1u << 0)   /* "network-online": the uplink has its address */
#define KEEL_COND_CLOCK          (1u << 1)   /* "clock": the clock is synchronized */
#define KEEL_COND_ALL            (KEEL_COND_NETWORK_ONLINE | KEEL_COND_CLOCK)
/* The condition bit a dependency name stands for, or 0 when it names a container. */
unsigned manifest_condition_of(const char *name);
/* The reserved name of one condition bit. */
const char *manifest_condition_name(unsigned bit);

struct dependency {
    char *name;
    enum dep_condition condition;
    int index;        /* index of the target in manifest.containers, set by validation */
    int line;
};

struct container_spec {
    char *name;
    int line;                      /* line of the [container NAME] header */
    int key_line[MANIFEST_KEYS_MAX];   /* see manifest_key_line() */

    /* Root filesystem. */
    char **layers;                 /* lower dirs, leftmost on top */
    char *upper;                   /* NULL: read-only; "tmpfs"; or a directory */
    char *upper_volume;            /* upper = volume:NAME/SUB: NAME (upper is then the path in it) */
    char *upper_volume_sub;        /* and SUB */
    uint64_t upper_size;           /* upper = tmpfs: its size in bytes, 0 = the tmpfs default */
    struct bind_mount *mounts;
    size_t n_mounts;
    struct bind_mount *devices;    /* host device nodes given in the container's /dev (readonly unused) */
    size_t n_devices;
    struct secret_spec *secrets;
    size_t n_secrets;

    /* Process. */
    char **argv;                   /* split from `command` */
    char **env;                    /* "K=V" (env_file's merged in by the validation) */
    size_t n_env_from_files;       /* env's last entries came from env_file (0: none) */
    struct env_file *env_files;    /* env_file = PATH, in order */
    size_t n_env_files;
    char *workdir;                 /* default "/" */
    char *user;                    /* as written: name, uid or uid:gid; NULL = root */
    char *hostname;                /* default: the container's name */
    int stop_signal;               /* default SIGTERM */
    uint64_t stop_timeout_ms;      /* default [system] stop_timeout */
    bool main;

    /* `image =` (docs/images.md): the .image file, and what it gave. */
    char *image;                   /* path of DEST/NAME.image; NULL: none */
    unsigned from_image;           /* CON_FROM_IMAGE_* bits, for keel check --plan */

    /* Capabilities: the final bounding = permitted = effective set. */
    uint64_t caps;
    uint64_t caps_ambient;         /* default 0 */
    bool no_new_privs;             /* default yes */
    enum seccomp_mode seccomp;
    char *seccomp_file;
    /* SECCOMP_FILE: the profile's bytes, read once with the manifest (by
     * manifest_digest_mounted on an fstab file system); the digest is
     * theirs and the filter is compiled from them, so a start reads no
     * path.  NULL: not read (MANIFEST_NO_FS_CHECKS, or unreadable). */
    char *seccomp_text;
    size_t seccomp_text_len;
    int seccomp_read_err;          /* without the text: why the read failed (an errno, manifest_read_why); 0: not tried */
    struct file_digest seccomp_digest;   /* of seccomp_text */
    bool nested_userns;            /* default no: the default filter refuses CLONE_NEWUSER */
    struct rlimit_spec *rlimits;
    size_t n_rlimits;
    enum userns_mode userns;       /* default USERNS_NO */
    struct userns_extent *userns_map;  /* USERNS_MAP: the extents as written */
    size_t n_userns_map;

    /* Restart policy and backoff. */
    enum restart_policy restart;
    unsigned restart_max;          /* on-failure:MAX, 0 = unlimited */
    uint64_t restart_delay_ms;     /* default 100 */
    uint64_t restart_delay_max_ms; /* default 30000 */
    uint64_t restart_reset_ms;     /* default 10000 */
    enum power_action on_crashloop;/* default POWER_NONE */

    struct dependency *deps;
    size_t n_deps;
    unsigned wait_conditions;      /* KEEL_COND_* named in `depends` */

    /* Network. */
    enum net_mode net;
    char *net_peer;                /* NET_CONTAINER: the container whose netns is joined */
    char *bridge;                  /* NET_BRIDGE: network name, default "keel0" */
    struct in_addr ip;             /* 0 = allocate */
    struct in6_addr ip6;           /* ip6 = ; meaningful when has_ip6 (else allocated on a subnet6 network) */
    bool has_ip6;
    struct port_map *ports;
    size_t n_ports;
    uint64_t net_rate;             /* bits per second, 0 = unlimited */

    /* cgroup v2 limits; KEEL_LIMIT_UNSET when not given. */
    int64_t memory_max, memory_high, memory_swap;
    int64_t cpu_quota_us, cpu_period_us;   /* from `cpus` */
    int64_t cpu_weight;
    char *cpuset;
    int64_t pids_max;              /* default: the key table's (manifest_keys.c) */
    int pids_line;                 /* line of `pids`; 0: the default (applied only where the controller is) */
    int64_t io_weight;
    struct io_limit *io_read_bps, *io_write_bps, *io_read_iops, *io_write_iops;
    size_t n_io_read_bps, n_io_write_bps, n_io_read_iops, n_io_write_iops;
    int oom_score_adj;
    bool oom_score_adj_set;

    /* Health and readiness. */
    enum health_kind health;
    char **health_argv;
    uint16_t health_port;
    uint64_t health_interval_ms, health_timeout_ms, health_start_period_ms;
    unsigned health_retries;
    enum power_action on_unhealthy;   /* POWER_RESTART (default), NONE, REBOOT, POWEROFF */
    enum ready_mode ready;
    int ready_fd;
    uint64_t start_timeout_ms;        /* 0 = wait forever */
    /* How keel apply replaces it (docs/operations.md): stop the old instance,
     * then start the new (default), or start the new beside the old, move the
     * published ports once it is healthy or ready, then stop the old. */
    enum update_mode { UPDATE_STOP_FIRST, UPDATE_START_FIRST } update;
    /* `standby = yes`: keel keeps one instance prepared up to its exec, which
     * `keel start` and a restart release (docs/operations.md, "Standby"). */
    bool standby;
};

/* A port of the machine that containers of a network may connect to. */
struct host_port {
    uint16_t port;
    uint8_t proto;              /* IPPROTO_TCP or IPPROTO_UDP */
};
#define NET_HOST_PORTS_MAX 32

struct network_spec {
    char *name;
    int line;
    int key_line[MANIFEST_KEYS_MAX];
    struct in_addr subnet;      /* network address */
    unsigned prefix;
    struct in_addr gateway;
    unsigned mtu;               /* default 1500 */
    bool isolate;
    /* The input policy (docs/networking.md): new connections from the
     * network's containers to the machine itself are dropped except to these
     * ports of the gateway address.  Fixed array: nothing to free. */
    struct host_port host_ports[NET_HOST_PORTS_MAX];
    size_t n_host_ports;
    bool no_lan;                /* lan = no: no private-address destinations beyond the machine */
    bool link_local;            /* link_local = yes: 169.254.0.0/16 (cloud metadata) reachable */
    /* Dual stack (subnet6 =): IPv6 is on for the bridge and its containers
     * only when has_v6; otherwise it stays off everywhere keel makes. */
    bool has_v6;
    struct in6_addr subnet6;
    unsigned prefix6;
    struct in6_addr gateway6;   /* meaningful when has_gateway6; default SUBNET6::1 */
    bool has_gateway6;
};

/* [volume NAME]: a disk keel mounts at boot at MANIFEST_VOLUMES_DIR/NAME,
 * found by device path, label or uuid (one of them), formatted by `mkfs`
 * only when it is empty.  Containers name it as volume:NAME/SUB. */
#define MANIFEST_VOLUMES_DIR "/var/lib/keel/volumes"
struct volume_spec {
    char *name;
    int line;
    int key_line[MANIFEST_KEYS_MAX];
    char *device;               /* /dev/..., or NULL */
    char *label, *uuid;         /* or NULL */
    char *fstype;               /* NULL: what the superblock says */
    char *options;              /* as written, or NULL */
    unsigned long flags;        /* MS_* from options; nosuid and nodev always */
    char *data;                 /* the options that are not flags, or NULL */
    char *mkfs;                 /* "ext4", or NULL: never format */
};

struct interface_spec {
    char *name;
    int line;
    int key_line[MANIFEST_KEYS_MAX];
    struct in_addr address;
    unsigned prefix;
    bool has_address;
    struct in_addr gateway;     /* 0 = none */
    unsigned mtu;               /* 0 = leave */
    bool dhcp;                  /* address = dhcp: keel's DHCPv4 client (dhcp.h) */
    bool address6_auto;         /* address6 = auto: SLAAC and RDNSS from router advertisements */
    bool has_address6;          /* address6 = ADDR/LEN */
    struct in6_addr address6;
    unsigned prefix6;
    bool has_gateway6;
    struct in6_addr gateway6;
};

struct system_spec {
    int line;                   /* line of the [system] header; 0 when there is none */
    int key_line[MANIFEST_KEYS_MAX];
    char *hostname;
    uint64_t stop_timeout_ms;   /* default 10 s */
    char *log_dir;              /* default /run/keel/log (manifest_set_runtime_dir) */
    uint64_t log_max_size;      /* bytes before rotation, default 1 MiB */
    unsigned log_keep;          /* rotated files kept, default 2 */
    char **modules;
    bool modules_split;         /* modules_split = yes: what the first start needs before it, the rest after (modplan.h) */
    char **sysctl;              /* "key=value" */
    struct fstab_entry *fstab;  /* mounted after the modules, in order */
    size_t n_fstab;
    char **dns;
    enum power_action on_exit;  /* default POWER_POWEROFF */
    enum power_action on_error; /* default POWER_POWEROFF */
    char *rescue_shell;
    char **control;             /* listener URLs, default unix:///run/keel.sock (the same) */
    char *control_tls_cert, *control_tls_key, *control_tls_ca;
    char *control_group;
    char *watchdog;
    uint64_t watchdog_timeout_ms;
    /* Time (boot mode only; timesync.h). */
    char **ntp;                 /* "IPv4[:PORT]" SNTP servers, in order */
    char *clock_file;           /* the saved clock, on persistent storage */
    /* Payload updates (boot mode; bundle.h, slot.h). */
    char *update_volume;        /* the [volume] holding slots/A, slots/B, slots/state */
    char *update_key;           /* Ed25519 public key bundles must be signed with */
    uint64_t update_confirm_ms; /* healthy this long before a new slot commits */
    char *metrics;              /* tcp://IP:PORT of the metrics endpoint, or NULL */
    char *syslog;               /* udp:// or tcp://IP:PORT of the syslog collector, or NULL */
};

struct manifest {
    char *path;
    struct system_spec system;
    struct container_spec *containers;
    size_t n_containers;
    struct network_spec *networks;
    size_t n_networks;
    struct interface_spec *interfaces;
    size_t n_interfaces;
    struct volume_spec *volumes;
    size_t n_volumes;
    int *start_order;          /* container indices, dependencies first */
};

/* Parses and validates `path`.  On success returns 0 and *out owns a manifest.
 * On failure returns -EINVAL (bad content) or -errno (unreadable file), with
 * every problem in `d`.  `flags` see below. */
/* Look at no path but the manifest's own: no layer, bind source, device,
 * secret, env_file, seccomp profile nor image is read or stat()ed.  A
 * container with `image =` then lacks what the image gives (its layers and
 * command may be NULL): the load that runs the manifest reads it. */
#define MANIFEST_NO_FS_CHECKS 0x1
int manifest_load(const char *path, unsigned flags, struct manifest **out, struct diag *d);
/* The same over a buffer; `name` is used in diagnostics. */
int manifest_load_buffer(const char *name, const char *buf, size_t len, unsigned flags,
                         struct manifest **out, struct diag *d);
void manifest_free(struct manifest *m);
/* The directory that the defaults of log_dir and control lie under instead
 * of /run (DIR/keel/log, unix://DIR/keel.sock): keel run and keel check set
 * $XDG_RUNTIME_DIR when keel is rootless (cli.c).  Set before the first
 * load; DIR must outlive every load. */
void manifest_set_runtime_dir(const char *dir);
/* Digests the secrets and seccomp profiles that the load left unread because
 * they are on a [system] fstab file system or a volume, once those are
 * mounted: PID 1 after its fstab and volumes, at once under `keel run` (which
 * mounts none), and every manifest applied after that.  So `keel apply`
 * compares the running manifest's and the new one's like with like.
 * Unreadable files stay unknown (the start says why). */
void manifest_digest_mounted(struct manifest *m);
/* Whether manifest_digest_mounted has anything to read in M (no path is looked at). */
bool manifest_names_mounted_files(const struct manifest *m);
/* The files manifest_digest_mounted would read did not answer in time: each
 * seccomp profile among them not read says so at its start (ETIMEDOUT). */
void manifest_mounted_timed_out(struct manifest *m);
/* Why a profile could not be read, from its seccomp_read_err: "not a regular
 * file", "larger than 1 MiB", "no answer from its file system in time"
 * (ETIMEDOUT) or strerror's text. */
const char *manifest_read_why(int err);
/* What tells each secret source of C from its next content without reading
 * it, as it is now (lstat: device, inode, size, mtime, ctime; every write,
 * truncation, rename over it or chmod changes the ctime), in one digest: a
 * standby compares the stamp taken before it was prepared with the one at its
 * release (supervise.c, docs/operations.md).  Unknown (never equal) when a
 * source cannot be looked at or changed in the last few seconds, as a second
 * change within a timestamp tick of the first may leave every time as it was. */
void manifest_secrets_stamp(const struct container_spec *c, struct file_digest *out);
/* True when a secret of C is on a network or FUSE file system (secret_spec
 * remote): a look at it may sleep for as long as its server is silent, so
 * PID 1 must not stamp it on a restart's path (no standby for C). */
bool manifest_secrets_remote(const struct container_spec *c);

int manifest_find_container(const struct manifest *m, const char *name);
const struct volume_spec *manifest_find_volume(const struct manifest *m, const char *name);
/* Pure: "volume:NAME[/SUB]" into NAME (a valid volume name) and SUB (a
 * relative path of plain components, no "." or "..", "" for the whole
 * volume).  1 when S is such a reference, 0 when S does not start with
 * "volume:", -EINVAL (why filled, PARSE_WHY_MAX bytes) when it is malformed.
 * For every key that names a path on a volume. */
int manifest_volume_ref(const char *s, char *name, size_t nn, char *sub, size_t sn, char *why);
const struct network_spec *manifest_find_network(const struct manifest *m, const char *name);

/* The line of KEY in the section SPEC (a struct container_spec, network_spec,
 * interface_spec or system_spec, const or not): where the key was set (a
 * repeatable key: its last line), else the section's header line (0 for an
 * absent [system]).  For messages about a value, also those of cross-field
 * rules: they point at the key whose value is wrong. */
#define manifest_key_line(spec, key) _Generic((spec), \
    struct container_spec *: manifest_container_key_line, \
    const struct container_spec *: manifest_container_key_line, \
    struct network_spec *: manifest_network_key_line, \
    const struct network_spec *: manifest_network_key_line, \
    struct interface_spec *: manifest_interface_key_line, \
    const struct interface_spec *: manifest_interface_key_line, \
    struct system_spec *: manifest_system_key_line, \
    const struct system_spec *: manifest_system_key_line, \
    struct volume_spec *: manifest_volume_key_line, \
    const struct volume_spec *: manifest_volume_key_line)((spec), (key))
int manifest_container_key_line(const struct container_spec *c, const char *key);
int manifest_network_key_line(const struct network_spec *n, const char *key);
int manifest_interface_key_line(const struct interface_spec *i, const char *key);
int manifest_system_key_line(const struct system_spec *s, const char *key);
int manifest_volume_key_line(const struct volume_spec *v, const char *key);

/* The key table: one line per key, "section<TAB>key<TAB>type<TAB>default<TAB>doc". */
void manifest_print_keys(FILE *out);   /* the key table: section, key, type, default, doc */

const char *power_action_name(enum power_action a);
const char *net_mode_name(enum net_mode n);
const char *restart_policy_name(enum restart_policy r);

#endif
