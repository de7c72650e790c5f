/* daemon.c — the serving side of keel, see daemon.h.
 *
 * main() in boot mode reads like the boot script it replaces:
 *   mount the system, read the manifest, apply [system], start containers,
 *   serve until asked to stop, stop containers in order, power off.
 */
#include "keel/daemon.h"
#include "keel/boot.h"
#include "keel/cgroup.h"
#include "keel/container.h"
#include "keel/control.h"
#include "keel/dhcp.h"
#include "keel/log.h"
#include "keel/kmod.h"
#include "keel/logship.h"
#include "keel/metrics.h"
#include "keel/modplan.h"
#include "keel/rlimit.h"
#include "keel/net.h"
#include "keel/rdnss.h"
#include "keel/loop.h"
#include "keel/manifest.h"
#include "keel/parse.h"
#include "keel/supervise.h"
#include "keel/sys.h"
#include "keel/timesync.h"
#include "keel/util.h"
#include "keel/volume.h"
#include "keel/update.h"
#include "keel/watchdog.h"

#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct daemon {
    const struct daemon_opts *opts;
    struct loop *loop;
    struct manifest *m;
    struct manifest *machine_m; /* boot mode, a slot runs: the manifest the machine was set up with */
    struct slot_state slot;     /* boot mode with update_volume: the state after this boot */
    struct update_watch *uw;    /* a slot being tried: its confirm window */
    struct supervisor *sup;
    struct cgroup_root cgroup;
    struct net_ctx *net;
    struct control *ctl;
    struct metrics *metrics;    /* [system] metrics, NULL when none */
    uint64_t start_ms;
    struct watchdog *wd;        /* boot mode: [system] watchdog, NULL when none */
    struct timesync *ts;        /* boot mode: [system] ntp, NULL when none */
    int sigfd;
    int button_fd;              /* boot mode: the power button's evdev device */
    struct dhcp_client **dhcp;  /* one per [interface] with address = dhcp (when keel configures them) */
    size_t n_dhcp;
    char *dhcp_resolv;          /* the resolv.conf last written from a lease */
    int rdnss_fd;               /* boot mode, address6 = auto: router advertisement options, -1 */
    struct rdnss rdnss;         /* their DNS servers (RFC 8106), in /etc/resolv.conf */
    int64_t rdnss_timer;        /* the next lifetime's end, 0 when none is armed */
    struct modplan mods;        /* boot mode: the modules before and after the first start */
    struct late_loader *loaders;/* the children loading mods.after (kmod_load_async) */
    size_t n_loaders, loaders_left;
    uint64_t late_start_ms;
    int late_loaded;
    bool late_begun, late_failed;
    bool settle_begun;          /* boot: keel's cgroup move waits for the first exec (settle_begin) */
    bool staying;               /* on_exit = stay after the containers finished */
    bool stopping;
    bool quiet_stop;            /* keel run, its containers all ended: nothing to stop, nothing to say */
    enum power_action action;   /* what the stop leads to (boot mode) */
};

struct late_loader {
    pid_t pid;
    int report;                 /* the child's report pipe, -1 once read */
};

static const int handled_signals[] = { SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGPWR };

static int signals_fd(struct kerr *err)
{
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < ARRAY_SIZE(handled_signals); i++)
        sigaddset(&set, handled_signals[i]);
    for (int rt = 3; rt <= 5; rt++)   /* systemd's halt / poweroff / reboot */
        sigaddset(&set, SIGRTMIN + rt);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        return kerr_set(err, errno, "cannot block signals");
    int fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (fd < 0)
        return kerr_set(err, errno, "cannot create the signal fd");
    /* A write to a closed pipe or socket must be an error, not death. */
    signal(SIGPIPE, SIG_IGN);
    return fd;
}

static void begin_stop(struct daemon *d, enum power_action action, const char *why)
{
    if (d->stopping)
        return;
    d->stopping = true;
    d->action = action;
    if (!d->quiet_stop)
        log_info("stopping all containers (%s)", why);
    supervisor_stop_all(d->sup);
}

/* SIGHUP: the manifest keel started from, read again and applied live
 * (supervisor_apply: checked in full first, nothing changes on an error),
 * once its preflight has read the paths it names in a child (the
 * supervisor logs a refusal).  The outcome is the supervisor's log line and
 * event.  [system] keys stay those keel started with: the daemon keeps that
 * first manifest for them. */
static void reload_checked(const char *why, void *data)
{
    struct daemon *d = data;
    struct manifest *nm = NULL;
    struct diag diag = { 0 };
    struct kerr err = { 0 };
    if (why)
        return;
    if (manifest_load(d->opts->manifest, 0, &nm, &diag) < 0) {
        for (size_t i = 0; i < diag.count; i++)
            log_error("%s", diag.msgs[i]);
        log_error("apply: the manifest %s is not valid: nothing was changed", d->opts->manifest);
        diag_free(&diag);
        return;
    }
    diag_free(&diag);
    if (supervisor_apply(d->sup, nm, false, NULL, NULL, &err) < 0)
        log_error("%s", err.msg);
}

static void reload(struct daemon *d)
{
    struct kerr err = { 0 };
    if (d->stopping)
        return;
    log_info("SIGHUP: applying %s", d->opts->manifest);
    if (supervisor_preflight(d->sup, d->opts->manifest, NULL, 0, reload_checked, d, &err) < 0)
        log_error("%s", err.msg);
}

static void on_signal(struct loop *l, int fd, uint32_t events, void *data)
{
    struct daemon *d = data;
    struct signalfd_siginfo si;
    while (read(fd, &si, sizeof si) == (ssize_t)sizeof si) {
        int sig = (int)si.ssi_signo;
        if (sig == SIGCHLD) {
            supervisor_reap(d->sup);
            continue;
        }
        if (sig == SIGHUP) {
            reload(d);
            continue;
        }
        if (!d->opts->boot) {
            /* keel run: any stop signal stops everything and exits 0. */
            begin_stop(d, POWER_NONE, signal_name(sig));
            continue;
        }
        /* PID 1: sysvinit's and systemd's conventions both. */
        enum power_action a = boot_signal_action(sig);
        if (a != POWER_NONE)
            begin_stop(d, a, signal_name(sig));
    }
}

static void on_power_button(struct loop *l, int fd, uint32_t events, void *data)
{
    if (boot_power_button_pressed(fd) == 1)
        begin_stop(data, POWER_POWEROFF, "power button");
}

static void on_power(enum power_action action, const char *why, void *data)
{
    struct daemon *d = data;
    begin_stop(d, action, why);
}

static int exit_code(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return 1;
}

#ifdef KEEL_TEST_HOOKS
/* Test hooks for the VM tests, from the kernel command line (boot mode only),
 * compiled only into the test build (build/test/keel, -DKEEL_TEST_HOOKS):
 * whoever can add a word to a released appliance's command line must not be
 * able to crash, freeze or fork-flood its PID 1 through them.
 *   keel.test_crash=S   keel crashes on purpose S seconds after boot (the crash
 *                       handler must reboot the machine)
 *   keel.test_freeze=S  keel stops serving S seconds after boot (a hung PID 1:
 *                       the hardware watchdog must reset the machine)
 *   keel.test_signals=S a child of keel sends PID 1 the fault signals (SEGV,
 *                       BUS, FPE, ILL, ABRT, SYS) with kill(2): keel must go on
 *   keel.test_orphans=S a child of keel leaves 10,000 orphans that exit at
 *                       once: PID 1 must reap them all
 * They do nothing unless given; documented in docs/boot.md and supervision.md. */
static void test_crash(struct loop *l, void *data)
{
    log_warn("test hook: keel.test_crash: crashing keel on purpose");
    /* A real fault, as a bug would cause one: the point of the hook. */
    volatile int *nowhere = NULL;
    // cppcheck-suppress nullPointer
    *nowhere = 1; // NOLINT(clang-analyzer-core.NullDereference)
}

static void test_freeze(struct loop *l, void *data)
{
    log_warn("test hook: keel.test_freeze: keel stops serving now");
    for (;;)
        pause();
}

static void test_signals(struct loop *l, void *data)
{
    log_warn("test hook: keel.test_signals: sending PID 1 fault signals from another process");
    pid_t pid = fork();
    if (pid == 0) {
        static const int sigs[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGSYS };
        for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
            kill(1, sigs[i]);
        _exit(0);
    }
}

static void test_orphans(struct loop *l, void *data)
{
    log_warn("test hook: keel.test_orphans: leaving 10000 orphans to PID 1");
    pid_t pid = fork();
    if (pid != 0)
        return;
    for (int i = 0; i < 10000; i++) {
        pid_t o = fork();
        if (o == 0) {
            /* Wait for the parent to die, so that PID 1 inherits every one. */
            while (getppid() != 1)
                sleep_ms(1);
            _exit(0);
        }
        if (o < 0)
            break;
    }
    _exit(0);
}

static void arm_test_hooks(struct daemon *d)
{
    _cleanup_free_ char *cmdline = NULL;
    if (read_file_at(AT_FDCWD, "/proc/cmdline", 65536, &cmdline, NULL) < 0)
        return;
    static const struct { const char *key; loop_timer_cb cb; } hooks[] = {
        { "keel.test_crash", test_crash }, { "keel.test_freeze", test_freeze },
        { "keel.test_signals", test_signals }, { "keel.test_orphans", test_orphans },
    };
    for (size_t i = 0; i < ARRAY_SIZE(hooks); i++) {
        _cleanup_free_ char *v = boot_cmdline_value(cmdline, hooks[i].key);
        uint64_t ms;
        if (v && parse_duration_ms(v, &ms, NULL) == 0 && loop_add_timer(d->loop, ms, hooks[i].cb, d) > 0)
            log_warn("test hook %s=%s armed", hooks[i].key, v);
    }
}
#endif

/* --- uplinks: keel run --interfaces, and DHCP in both modes ------------------ */

static bool configures_interfaces(const struct daemon *d)
{
    return d->opts->boot || d->opts->interfaces;
}

static size_t dhcp_count(const struct daemon *d)
{
    size_t n = 0;
    for (size_t i = 0; configures_interfaces(d) && i < d->m->n_interfaces; i++)
        n += d->m->interfaces[i].dhcp;
    return n;
}

/* The resolv.conf of the machine (boot mode) and of the running containers,
 * from every source at once, so that none overwrites another: [system] dns,
 * or else the DHCP lease's servers and domain; then the servers of IPv6
 * router advertisements (RDNSS). */
static void publish_resolv(struct daemon *d)
{
    _cleanup_strv_ char **ra = d->rdnss_fd >= 0 ? rdnss_servers(&d->rdnss) : NULL;
    bool fixed = d->m->system.dns && d->m->system.dns[0];
    _cleanup_free_ char *text = NULL;
    if (fixed || !d->dhcp_resolv) {
        text = boot_resolv_conf_ra(d->m->system.dns, ra);
    } else {
        _cleanup_free_ char *adv = boot_resolv_conf_ra(NULL, ra);
        const char *lines = adv ? strchr(adv, '\n') : NULL;   /* past its header comment */
        text = adv ? xasprintf("%s%s", d->dhcp_resolv, lines ? lines + 1 : "") : NULL;
    }
    struct kerr err = { 0 };
    if (!text) {
        log_error("cannot write resolv.conf: out of memory");
        return;
    }
    if (d->opts->boot && boot_write_resolv_conf(text, &err) < 0)
        log_warn("%s", err.msg);
    if (d->sup && supervisor_set_resolv(d->sup, text, &err) < 0)
        log_warn("%s", err.msg);
}

/* The lease's DNS servers become the resolv.conf of the machine (boot mode)
 * and of the containers, unless [system] dns fixes them. */
static void lease_resolv(struct daemon *d, struct dhcp_client *dc, const struct dhcp_lease *l)
{
    if (d->m->system.dns && d->m->system.dns[0])
        return;
    char text[1024];
    if (dhcp_resolv_conf(l, dhcp_client_ifname(dc), text, sizeof text) <= 0)
        return;
    if (d->dhcp_resolv && strcmp(d->dhcp_resolv, text) == 0)
        return;   /* a renewal with the same servers */
    free(d->dhcp_resolv);
    d->dhcp_resolv = strdup(text);
    publish_resolv(d);
    log_info("interface %s: DNS from the DHCP lease written to resolv.conf (%zu server(s))", dhcp_client_ifname(dc),
             l->n_dns);
}

/* The lease's NTP servers go to the SNTP client, unless [system] ntp names
 * the servers (the manifest wins over the network). */
static void lease_ntp(struct daemon *d, const struct dhcp_lease *l)
{
    if (!d->ts || d->m->system.ntp || l->n_ntp == 0)
        return;
    char addrs[DHCP_MAX_NTP][INET_ADDRSTRLEN];
    char *list[DHCP_MAX_NTP + 1] = { NULL };
    for (size_t i = 0; i < l->n_ntp; i++) {
        inet_ntop(AF_INET, &l->ntp[i], addrs[i], sizeof addrs[i]);
        list[i] = addrs[i];
    }
    struct kerr err = { 0 };
    if (timesync_set_servers(d->ts, list, &err) < 0)
        log_warn("%s", err.msg);
}

/* A lease was applied (or, l NULL, removed).  The first one sets
 * network-online (a condition is never unset: containers that started keep
 * running while the uplink is down, as they would on a lost link). */
static void on_lease(struct dhcp_client *dc, const struct dhcp_lease *l, void *data)
{
    struct daemon *d = data;
    if (!l)
        return;   /* the last resolv.conf stays: nothing better is known */
    /* resolv.conf first: a container that waited for the network finds its DNS. */
    lease_resolv(d, dc, l);
    lease_ntp(d, l);
    supervisor_condition_set(d->sup, KEEL_COND_NETWORK_ONLINE);
}

/* keel run: the uplinks are the host's unless --interfaces says they are keel's
 * (boot_setup_machine configured them at boot). */
static int run_mode_interfaces(struct daemon *d, struct kerr *err)
{
    if (d->opts->boot || d->m->n_interfaces == 0)
        return 0;
    if (!d->opts->interfaces) {
        log_info("keel run: the [interface] sections are the host's business and are not applied "
                 "(keel run --interfaces applies them)");
        return 0;
    }
    for (size_t i = 0; i < d->m->n_interfaces; i++) {
        int r = net_interface_configure(&d->m->interfaces[i], err);
        if (r < 0)
            return r;
        log_info("interface %s: up%s", d->m->interfaces[i].name, d->m->interfaces[i].dhcp ? " (DHCP)" : "");
    }
    return 0;
}

static int start_dhcp(struct daemon *d, struct kerr *err)
{
    size_t n = dhcp_count(d);
    if (n == 0)
        return 0;
    d->dhcp = calloc(n, sizeof(struct dhcp_client *));
    if (!d->dhcp)
        return kerr_set(err, ENOMEM, "cannot start DHCP");
    for (size_t i = 0; i < d->m->n_interfaces; i++) {
        const struct interface_spec *ifs = &d->m->interfaces[i];
        if (!ifs->dhcp)
            continue;
        /* keel's networks: a lease may not take their addresses or their traffic. */
        struct dhcp_route nets[DHCP_MAX_RESERVED];
        size_t nn = 0;
        for (size_t k = 0; k < d->m->n_networks && nn < DHCP_MAX_RESERVED; k++)
            nets[nn++] = (struct dhcp_route){ .dst = d->m->networks[k].subnet, .prefix = d->m->networks[k].prefix };
        struct dhcp_opts o = { .ifname = ifs->name, .hostname = d->m->system.hostname, .keep_mtu = ifs->mtu != 0,
                               .reserved = nets, .n_reserved = nn, .cb = on_lease, .data = d };
        int r = dhcp_client_start(&d->dhcp[d->n_dhcp], d->loop, &o, err);
        if (r < 0)
            return r;
        d->n_dhcp++;
    }
    return 0;
}

/* `keel status` without a name: every [interface] and, for DHCP, its lease. */
static void machine_status(void *data, struct json_writer *out)
{
    struct daemon *d = data;
    char a[INET_ADDRSTRLEN];
    json_key(out, "uplinks");
    json_arr_begin(out);
    for (size_t i = 0; i < d->m->n_interfaces; i++) {
        const struct interface_spec *ifs = &d->m->interfaces[i];
        json_obj_begin(out);
        json_kstr(out, "interface", ifs->name);
        json_kbool(out, "configured", configures_interfaces(d));
        if (!ifs->dhcp) {
            if (ifs->has_address) {
                char cidr[INET_ADDRSTRLEN + 4];
                snprintf(cidr, sizeof cidr, "%s/%u", inet_ntop(AF_INET, &ifs->address, a, sizeof a), ifs->prefix);
                json_kstr(out, "address", cidr);
            }
            json_obj_end(out);
            continue;
        }
        const struct dhcp_client *dc = NULL;
        for (size_t k = 0; k < d->n_dhcp; k++)
            if (strcmp(dhcp_client_ifname(d->dhcp[k]), ifs->name) == 0)
                dc = d->dhcp[k];
        json_kstr(out, "dhcp", dc ? dhcp_state_name(dhcp_client_state(dc)) : "off");
        const struct dhcp_lease *l = dhcp_client_lease(dc);
        if (l) {
            char cidr[INET_ADDRSTRLEN + 4];
            snprintf(cidr, sizeof cidr, "%s/%u", inet_ntop(AF_INET, &l->addr, a, sizeof a), l->prefix);
            json_kstr(out, "address", cidr);
            json_kstr(out, "server", inet_ntop(AF_INET, &l->server, a, sizeof a));
            if (l->router.s_addr)
                json_kstr(out, "router", inet_ntop(AF_INET, &l->router, a, sizeof a));
            json_key(out, "routes");
            json_arr_begin(out);
            for (size_t r = 0; r < l->n_routes; r++) {
                char g[INET_ADDRSTRLEN], line[2 * INET_ADDRSTRLEN + 16];
                snprintf(line, sizeof line, "%s/%u via %s", inet_ntop(AF_INET, &l->routes[r].dst, a, sizeof a),
                         l->routes[r].prefix, inet_ntop(AF_INET, &l->routes[r].gw, g, sizeof g));
                json_str(out, line);
            }
            json_arr_end(out);
            json_key(out, "dns");
            json_arr_begin(out);
            for (size_t k = 0; k < l->n_dns; k++)
                json_str(out, inet_ntop(AF_INET, &l->dns[k], a, sizeof a));
            json_arr_end(out);
            json_key(out, "ntp");
            json_arr_begin(out);
            for (size_t k = 0; k < l->n_ntp; k++)
                json_str(out, inet_ntop(AF_INET, &l->ntp[k], a, sizeof a));
            json_arr_end(out);
            if (l->domain[0])
                json_kstr(out, "domain", l->domain);
            if (l->mtu)
                json_kuint(out, "mtu", l->mtu);
            json_kuint(out, "lease_s", l->lease_s);
            uint64_t left = dhcp_client_expires_in_ms(dc);
            if (left != UINT64_MAX)
                json_kuint(out, "expires_in_ms", left);
        }
        json_obj_end(out);
    }
    json_arr_end(out);
}

static void on_clock_synced(void *data)
{
    struct daemon *d = data;
    log_stage("clock synchronized");
    supervisor_condition_set(d->sup, KEEL_COND_CLOCK);
}

/* Boot mode, before anything that depends on time: the saved clock, when it
 * is ahead of the RTC's.  A bad file is reported, never fatal. */
static void restore_clock(const struct manifest *m)
{
    struct kerr err = { 0 };
    if (!m->system.clock_file)
        return;
    if (timesync_file_volatile(m->system.clock_file))
        log_warn("clock_file %s is on tmpfs or ramfs: a poweroff empties it (put it on a data disk or volume)",
                 m->system.clock_file);
    int r = timesync_restore(m->system.clock_file, &err);
    if (r < 0)
        log_warn("%s", err.msg);
    else if (r > 0)
        log_info("clock set forward to the time saved in %s", m->system.clock_file);
    else
        log_info("clock left as it is (%s is absent or behind it)", m->system.clock_file);
}

/* keel's own lines go to the syslog forwarder too, daemon.SEVERITY. */
static void ship_log_line(enum log_level level, const char *text, size_t len)
{
    static const int severity[] = {
        [LOG_LEVEL_ERROR] = LOGSHIP_SEV_ERR, [LOG_LEVEL_WARN] = LOGSHIP_SEV_WARNING,
        [LOG_LEVEL_INFO] = LOGSHIP_SEV_INFO, [LOG_LEVEL_DEBUG] = LOGSHIP_SEV_DEBUG,
    };
    logship_add(LOGSHIP_FAC_DAEMON, severity[level], "keel", text, len);
}

static void keel_figures(void *data, struct metrics_keel *k)
{
    const struct daemon *d = data;
    k->uptime_ms = now_ms() - d->start_ms;
    control_counters(d->ctl, &k->control_accepted, &k->control_refused);
    k->n_stages = log_stage_times(&k->stages);
    logship_get_stats(&k->syslog);
}

/* RDNSS (boot mode, address6 = auto) ------------------------------------------ */

static void rdnss_changed(struct daemon *d);

static void on_rdnss_expiry(struct loop *l, void *data)
{
    struct daemon *d = data;
    d->rdnss_timer = 0;
    if (rdnss_expire(&d->rdnss, now_ms()))
        rdnss_changed(d);
}

/* /etc/resolv.conf gets [system] dns and the advertised servers; the timer
 * follows the next lifetime's end. */
static void rdnss_changed(struct daemon *d)
{
    _cleanup_strv_ char **ra = rdnss_servers(&d->rdnss);
    publish_resolv(d);
    log_info("dns: %zu server(s) from IPv6 router advertisements in resolv.conf", strv_len(ra));
    if (d->rdnss_timer)
        loop_cancel_timer(d->loop, d->rdnss_timer);
    d->rdnss_timer = 0;
    uint64_t next = rdnss_next_expiry(&d->rdnss), now = now_ms();
    if (next != UINT64_MAX) {
        int64_t id = loop_add_timer(d->loop, next > now ? next - now : 0, on_rdnss_expiry, d);
        d->rdnss_timer = id > 0 ? id : 0;
    }
}

static void on_rdnss(struct loop *l, int fd, uint32_t events, void *data)
{
    struct daemon *d = data;
    bool changed = false;
    struct kerr err = { 0 };
    if (rdnss_read(fd, &d->rdnss, now_ms(), &changed, &err) < 0)
        log_error("%s", err.msg);
    if (changed)
        rdnss_changed(d);
}

static bool wants_rdnss(const struct manifest *m)
{
    for (size_t i = 0; i < m->n_interfaces; i++)
        if (m->interfaces[i].address6_auto)
            return true;
    return false;
}

/* The power button's device into the loop; LOUD says why when there is none. */
static void watch_power_button(struct daemon *d, bool loud)
{
    struct kerr err = { 0 };
    d->button_fd = boot_power_button_open(&err);
    if (d->button_fd < 0) {
        if (loud)
            log_warn("%s: the power button is not watched", err.msg);
    } else if (loop_add_fd(d->loop, d->button_fd, EPOLLIN, on_power_button, d) < 0) {
        log_warn("cannot watch the power button");
    }
}

/* --- modules after the first start (modplan.h, docs/boot.md) ---------------
 *
 * mods.after is loaded once the first container has started (its exec, or
 * its failure), in background children: PID 1 never waits on finit_module.
 * One child per CPU at most, each with a group of modules that shares no
 * module with another's (kmod_plan_bins), so that no child needs what
 * another is still loading.  What waits for them waits for an event: the
 * power button's watcher tries again as each child is reaped, a container
 * that needs one of them is held by SUP_COND_MODULES until all are in.  A
 * module that cannot be loaded is the boot error it was before the split:
 * logged, then [system] on_error (the containers are stopped first). */

static void late_failed(struct daemon *d)
{
    d->late_failed = true;
    if (d->loaders_left == 0)
        begin_stop(d, d->m->system.on_error, "a module could not be loaded: on_error");
}

static void on_loader_exit(pid_t pid, int status, void *data)
{
    struct daemon *d = data;
    for (size_t i = 0; i < d->n_loaders; i++) {
        struct late_loader *l = &d->loaders[i];
        if (l->pid != pid || l->report < 0)
            continue;
        struct kerr err = { 0 };
        int r = kmod_load_async_result(l->report, status, &err);
        close_safe(l->report);
        l->report = -1;
        d->loaders_left--;
        if (r < 0) {
            log_error("%s", err.msg);
            d->late_failed = true;
        } else {
            d->late_loaded += r;
        }
        break;
    }
    if (!d->late_failed && d->mods.button_after && d->button_fd < 0)
        watch_power_button(d, d->loaders_left == 0);
    if (d->loaders_left > 0)
        return;
    if (d->late_failed) {
        late_failed(d);
        return;
    }
    log_stage("modules after the first start: %d loaded in %llu ms (%zu loader%s)", d->late_loaded,
              (unsigned long long)(now_ms() - d->late_start_ms), d->n_loaders, d->n_loaders == 1 ? "" : "s");
    supervisor_condition_set(d->sup, SUP_COND_MODULES);
}

static size_t cpus_online(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) < 0)
        return 1;
    int n = CPU_COUNT(&set);
    return n > 0 ? (size_t)n : 1;
}

/* From the loop (a zero timer), never from inside the supervisor's step. */
static void late_begin(struct loop *l, void *data)
{
    struct daemon *d = data;
    char **after = d->mods.after;
    size_t n = strv_len(after), nbins = cpus_online();
    if (nbins > n)
        nbins = n;
    _cleanup_free_ int *bin = calloc(n ? n : 1, sizeof *bin);
    d->loaders = calloc(nbins ? nbins : 1, sizeof *d->loaders);
    struct kerr err = { 0 };
    if (!bin || !d->loaders) {
        log_error("cannot load the modules after the first start: out of memory");
        late_failed(d);
        return;
    }
    d->late_start_ms = now_ms();
    if (kmod_bins(after, nbins, bin, &err) < 0) {
        log_error("%s", err.msg);
        late_failed(d);
        return;
    }
    for (size_t b = 0; b < nbins; b++) {
        _cleanup_strv_ char **names = NULL;
        for (size_t k = 0; k < n; k++)
            if (bin[k] == (int)b && strv_push(&names, after[k]) < 0) {
                log_error("cannot load the modules after the first start: out of memory");
                late_failed(d);
                return;
            }
        if (!names)
            continue;
        int report = -1;
        pid_t pid = kmod_load_async(names, &report, &err);
        if (pid < 0) {
            log_error("%s", err.msg);
            late_failed(d);
            return;
        }
        d->loaders[d->n_loaders++] = (struct late_loader){ pid, report };
        d->loaders_left++;
        if (supervisor_watch_child(d->sup, pid, on_loader_exit, d) < 0) {
            /* Unwatched, it would be reaped as an orphan and never counted. */
            log_error("cannot watch the module loader %d: out of memory", (int)pid);
            late_failed(d);
            return;
        }
    }
    if (d->n_loaders == 0)   /* everything was present already */
        on_loader_exit(0, 0, d);
}

static void late_schedule(struct daemon *d)
{
    if (d->late_begun || !d->mods.after)
        return;
    d->late_begun = true;
    if (loop_add_timer(d->loop, 0, late_begin, d) <= 0) {
        log_error("cannot schedule the modules after the first start");
        late_failed(d);
    }
}

/* The first container started (its exec) or could not: the rest may load. */
static void late_on_event(const struct sup_event *ev, void *data)
{
    if (ev->kind == EV_STARTED || ev->kind == EV_EXITED || ev->kind == EV_FAILED || ev->kind == EV_STOPPED)
        late_schedule(data);
}

/* Before supervisor_start_all: who waits for the modules, and what starts them. */
static void late_prepare(struct daemon *d)
{
    if (!d->mods.after)
        return;
    for (size_t i = 0; i < d->m->n_containers; i++)
        /* A payload slot's manifest is not the one planned for: all of its containers wait. */
        if ((d->machine_m || d->mods.held[i]) && supervisor_hold(d->sup, d->m->containers[i].name, SUP_COND_MODULES) < 0)
            log_error("%s: cannot hold its start for the modules", d->m->containers[i].name);
    if (supervisor_subscribe(d->sup, late_on_event, d) < 0) {
        log_error("cannot wait for the first start: the modules load now");
        late_schedule(d);
    }
}

/* After supervisor_start_all: whether a container is starting or running
 * (else nothing will say "started"). */
static bool start_under_way(struct daemon *d)
{
    for (size_t i = 0; i < supervisor_count(d->sup); i++) {
        struct container_status st;
        supervisor_status(d->sup, i, &st);
        if (st.state == CS_STARTING || st.state == CS_RUNNING)
            return true;
    }
    return false;
}

/* When no start is under way (every container waits for something): load them now. */
static void late_after_start_all(struct daemon *d)
{
    if (!start_under_way(d))
        late_schedule(d);
}

/* Boot mode, once the first container exec'd (or could not, or none is
 * starting): keel's move into its cgroup leaf (cgroup_enter_leaf).  It waits
 * for an RCU grace period: on one CPU, done between the clone and the
 * container's exec it delayed that exec.  From the loop (a zero timer). */
static void settle_begin(struct loop *l, void *data)
{
    struct daemon *d = data;
    cgroup_enter_leaf(&d->cgroup);
}

static void settle_schedule(struct daemon *d)
{
    if (d->settle_begun)
        return;
    d->settle_begun = true;
    if (loop_add_timer(d->loop, 0, settle_begin, d) <= 0) {
        log_error("cannot schedule keel's move into its cgroup: done now");
        settle_begin(d->loop, d);
    }
}

static void settle_on_event(const struct sup_event *ev, void *data)
{
    if (ev->kind == EV_STARTED || ev->kind == EV_EXITED || ev->kind == EV_FAILED || ev->kind == EV_STOPPED)
        settle_schedule(data);
}

/* The run directory as keel makes it, also when it was there already:
 * keel's own (a directory owned by keel's user, no symlink) and 0700.  Its
 * notify sockets are 0666 by design (any uid in a container may send to its
 * own), so the directory is what keeps other host users from them; an
 * existing one made wider (mkdir -p's 0755) is tightened, one of another
 * user is refused. */
static int secure_run_dir(const char *dir, struct kerr *err)
{
    _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0)
        return kerr_set(err, errno, "cannot open the run directory %s", dir);
    if (st.st_uid != geteuid())
        return kerr_msg(err, EPERM, "cannot use the run directory %s: it belongs to uid %u, not to keel's %u", dir,
                        (unsigned)st.st_uid, (unsigned)geteuid());
    if ((st.st_mode & 07777) != 0700) {
        if (fchmod(fd, 0700) < 0)
            return kerr_set(err, errno, "cannot make the run directory %s private (mode 0700)", dir);
        log_warn("run directory %s was mode %04o: made 0700", dir, (unsigned)(st.st_mode & 07777));
    }
    return 0;
}

/* Everything between a valid manifest and serving.  0 / negative errno. */
static int daemon_setup(struct daemon *d, struct kerr *err)
{
    const struct daemon_opts *opts = d->opts;
    if (!opts->boot && prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
        return kerr_set(err, errno, "cannot become a child subreaper");
    int r = mkdir_p(opts->run_dir, 0700);
    if (r < 0)
        return kerr_set(err, -r, "cannot create %s", opts->run_dir);
    if ((r = secure_run_dir(opts->run_dir, err)) < 0)
        return r;
    if ((r = loop_new(&d->loop, err)) < 0 || (d->sigfd = r = signals_fd(err)) < 0)
        return r;
    if ((r = loop_add_fd(d->loop, d->sigfd, EPOLLIN, on_signal, d)) < 0)
        return kerr_set(err, -r, "cannot watch signals");
    if ((r = run_mode_interfaces(d, err)) < 0)
        return r;
    /* Without a usable cgroup2 hierarchy containers still run; one that asks
     * for a limit is then refused at its start, naming the controller. */
    if (cgroup_setup(&d->cgroup, opts->boot ? "/sys/fs/cgroup" : NULL, opts->boot, err) < 0)
        log_warn("%s: containers get no cgroup of their own", err->msg);
    /* Clears what a crashed keel left, then makes the bridges and keel's nf_tables table. */
    log_stage("cgroups ready");
    if ((r = net_init(&d->net, d->m, opts->run_dir, err)) < 0)
        return r;
    log_stage("networks ready");
    if (opts->boot) {
        if (d->mods.button_after)
            log_info("power button: watched once its modules are loaded, after the first start");
        else
            watch_power_button(d, true);
        if (d->rdnss_fd >= 0 && loop_add_fd(d->loop, d->rdnss_fd, EPOLLIN, on_rdnss, d) < 0)
            log_error("cannot watch router advertisements: no DNS servers from them");
        else if (d->rdnss_fd >= 0)
            on_rdnss(d->loop, d->rdnss_fd, EPOLLIN, d);   /* what came during the boot */
    }
    struct supervisor_opts sopts = {
        .boot_mode = opts->boot, .run_dir = opts->run_dir, .power = on_power, .power_data = d,
        .cgroup = &d->cgroup, .net = d->net,
        /* Only the DHCP client sets `network-online`, only the SNTP client with
         * [system] ntp `clock`; without them the conditions are met. */
        .conditions_pending = (dhcp_count(d) ? KEEL_COND_NETWORK_ONLINE : 0) |
                              (opts->boot && d->m->system.ntp ? KEEL_COND_CLOCK : 0),
    };
    if ((r = supervisor_new(&d->sup, d->loop, d->m, &sopts, err)) < 0)
        return r;
    /* Its first request goes out from the loop, after the uplinks came up.
     * Without [system] ntp but with a DHCP uplink it waits, idle, for the
     * servers a lease names (option 42); `clock` is then not held for it. */
    if (opts->boot && (d->m->system.ntp || dhcp_count(d)) &&
        (r = timesync_new(&d->ts, d->loop, d->m->system.ntp, NULL, on_clock_synced, d, err)) < 0)
        return r;
    log_stage("supervisor ready");
    /* The uplink's DHCP client runs on the loop: nothing waits for it but
     * the containers that say depends = network-online. */
    if ((r = start_dhcp(d, err)) < 0)
        return r;
    /* The control listeners ([system] control): all of them or none. */
    struct control_backend be = control_backend_supervisor(d->sup, &d->cgroup);
    be.machine = machine_status;
    be.machine_data = d;
    if (opts->boot)
        be.update_m = d->machine_m ? d->machine_m : d->m;
    if ((r = control_new(&d->ctl, d->loop, d->m, &be, NULL, err)) < 0)
        return r;
    /* Forwarding and metrics are for watching: when they cannot start the
     * machine still serves, and says so. */
    if (d->m->system.syslog && logship_start(d->loop, d->m->system.syslog, err) < 0) {
        log_error("%s: logs are not forwarded", err->msg);
        log_set_sink(NULL);
        logship_stop();
    }
    if (d->m->system.metrics &&
        metrics_new(&d->metrics, d->loop, d->m->system.metrics, &be, keel_figures, d, NULL, err) < 0)
        log_error("%s: the machine runs without its metrics endpoint", err->msg);
    /* Last, so that no failure above leaves an armed watchdog behind the
     * on_error pause.  A watchdog that cannot be driven is an error on the
     * console, not a reason to refuse to serve. */
    if (opts->boot && d->m->system.watchdog &&
        watchdog_open(&d->wd, d->loop, d->m->system.watchdog, d->m->system.watchdog_timeout_ms, err) < 0)
        log_error("%s: the machine runs without its watchdog", err->msg);
    return 0;
}

/* The confirm window of a slot being tried has ended. */
static void update_done(bool commit, const char *why, void *data)
{
    struct daemon *d = data;
    if (!commit)
        begin_stop(d, POWER_REBOOT, "update rolled back");   /* the boot runs the old slot */
}

/* Boot mode, the machine set up: serve the slot's manifest instead of the
 * image's when a slot runs (update.h).  A slot being tried whose manifest
 * does not load is rolled back at once; a committed one falls back to the
 * image's manifest (logged) rather than leave the machine with nothing. */
static void choose_slot(struct daemon *d)
{
    struct kerr err = { 0 };
    _cleanup_free_ char *path = NULL;
    int r = update_boot_select(d->m, &d->slot, &path, &err);
    if (r < 0)
        log_error("update: %s: the image's manifest runs", err.msg);
    if (r <= 0)
        return;
    struct manifest *sm = NULL;
    struct diag diag = { 0 };
    if (supervisor_load_bounded(path, 0, &sm, &diag) == 0) {
        d->machine_m = d->m;
        d->m = sm;
        diag_free(&diag);
        (void)boot_image_modules(sm);   /* a bundle's layers are erofs/squashfs images */
        return;
    }
    for (size_t i = 0; i < diag.count; i++)
        fprintf(stderr, "%s\n", diag.msgs[i]);
    diag_free(&diag);
    if (d->slot.trying != SLOT_NONE) {
        if (update_fail(d->m, "the new slot's manifest is not valid", &err) < 0)
            log_error("update: %s", err.msg);
        boot_final(POWER_REBOOT);
    }
    log_error("update: the manifest of slot %s is not valid: the image's manifest runs", slot_name(d->slot.active));
}

/* What the end of the main container (or of all) leads to. */
static void containers_finished(struct daemon *d, int status)
{
    if (d->uw) {
        update_watch_main_exited(d->uw, status);   /* a try ends with its main: commit or rollback first */
        update_watch_free(d->uw);
        d->uw = NULL;
        if (d->stopping)
            return;
    }
    if (!d->opts->boot) {
        /* Their exit lines were the last word: two lines fewer on the
         * console, each a write at keel run's end. */
        d->quiet_stop = supervisor_all_down(d->sup);
        begin_stop(d, POWER_NONE, "all containers exited");
        return;
    }
    char how[64];
    if (WIFEXITED(status))
        snprintf(how, sizeof how, "exit status %d", WEXITSTATUS(status));
    else
        snprintf(how, sizeof how, "signal %s", signal_name(WIFSIGNALED(status) ? WTERMSIG(status) : 0));
    log_info("the appliance's containers have exited (%s)", how);
    if (d->m->system.on_exit == POWER_STAY) {
        if (!d->staying)
            log_info("on_exit = stay: the machine stays up");
        d->staying = true;
        return;
    }
    begin_stop(d, d->m->system.on_exit, "on_exit");
}

static void daemon_teardown(struct daemon *d)
{
    watchdog_close_clean(d->wd);   /* a clean stop: disarm before the loop goes */
    d->wd = NULL;
    update_watch_free(d->uw);
    d->uw = NULL;
    metrics_free(d->metrics);
    d->metrics = NULL;
    control_free(d->ctl);   /* first: it is subscribed to the supervisor's events */
    d->ctl = NULL;
    timesync_free(d->ts);
    d->ts = NULL;
    supervisor_free(d->sup);
    d->sup = NULL;
    /* The containers are down: the leases go back to their servers (RELEASE). */
    for (size_t i = 0; i < d->n_dhcp; i++)
        dhcp_client_stop(d->dhcp[i]);
    free(d->dhcp);
    d->dhcp = NULL;
    d->n_dhcp = 0;
    free(d->dhcp_resolv);
    d->dhcp_resolv = NULL;
    net_shutdown(d->net);
    d->net = NULL;
    if (d->opts->boot)
        volume_unmount_all(d->machine_m ? d->machine_m : d->m);   /* every container is down; boot_final syncs and unmounts the rest */
    log_set_sink(NULL);
    logship_stop();   /* a last non-blocking flush */
    cgroup_release(&d->cgroup);
    if (d->button_fd >= 0)
        loop_del_fd(d->loop, d->button_fd);
    close_safe(d->button_fd);
    if (d->rdnss_fd >= 0)
        loop_del_fd(d->loop, d->rdnss_fd);
    close_safe(d->rdnss_fd);
    close_safe(d->sigfd);
    for (size_t i = 0; i < d->n_loaders; i++)
        close_safe(d->loaders[i].report);   /* a loader still running is boot_final's to end */
    free(d->loaders);
    d->loaders = NULL;
    d->n_loaders = 0;
    modplan_free(&d->mods);
    loop_free(d->loop);
    d->loop = NULL;
}

/* keel run starts from its binary on disk: the containers' processes reach
 * it only through keel's processes before they run the exec stub, and those
 * are out of reach (container.h).  When a container of this manifest could
 * reach them anyway, keel re-executes from a sealed copy of itself first, and
 * fails closed when it cannot (it must not go on from the file on disk). */
static int seal_if_needed(const struct manifest *m, char *const *run_argv)
{
    bool need = false;
    for (size_t i = 0; i < m->n_containers && !need; i++)
        need = container_needs_sealed_keel(&m->containers[i]);
    if (!need || sys_exe_protected() > 0)
        return 0;
    size_t n = 0;
    while (run_argv && run_argv[n])
        n++;
    char **argv = calloc(n + 2, sizeof *argv);
    if (!argv) {
        log_error("cannot re-execute keel from a sealed copy of itself: %s", strerror(ENOMEM));
        return -ENOMEM;
    }
    argv[0] = program_invocation_name;   /* main's argv[0], as before the re-execution */
    for (size_t i = 0; i < n; i++)
        argv[i + 1] = run_argv[i];
    int r = sys_reexec_sealed(argv);   /* returns only on failure */
    free(argv);
    fprintf(stderr, "keel: error: cannot re-execute keel from a sealed copy of itself: %s; "
            "refusing to run containers from the binary on disk\n", strerror(-r));
    return r;
}

int daemon_main(const struct daemon_opts *opts)
{
    struct daemon d = { .opts = opts, .sigfd = -1, .button_fd = -1, .rdnss_fd = -1,
                        .cgroup = { .keel_fd = -1, .start_fd = -1, .lock_fd = -1 } };
    struct kerr err = { 0 };
    struct diag diag = { 0 };
    int status = 0, code = 1;

    log_setup(2, LOG_LEVEL_INFO);
    d.start_ms = now_ms();
    /* Every line from the first on is kept for a syslog collector, until
     * the manifest says whether there is one. */
    if (logship_queue_init() == 0)
        log_set_sink(ship_log_line);
    /* PID 1's loop (and the watchdog it pets) must never wait for a slow
     * console: lines it cannot take are dropped and counted (log.h). */
    int nb = log_nonblocking();
    if (nb < 0)
        log_warn("cannot make the console output non-blocking: %s", strerror(-nb));
    log_stage("keel start");
    long nofile = rlimit_raise_own_nofile();
    if (nofile < 0)
        log_warn("cannot raise keel's open-file limit to its hard limit: %s", strerror((int)-nofile));
    /* At boot the load is bounded (supervisor_load_bounded: a path on a
     * hung file system must not hold the machine for ever; past the bound
     * it fails as an invalid manifest does).  `keel run` loads in place, as
     * any command reads its files: the fork and the second load would cost
     * every start ~0.3 ms (docs/reliability.md), and its caller sees it
     * wait and can stop it. */
    int lr = opts->boot ? supervisor_load_bounded(opts->manifest, 0, &d.m, &diag)
                        : manifest_load(opts->manifest, 0, &d.m, &diag);
    if (lr < 0) {
        for (size_t i = 0; i < diag.count; i++)
            fprintf(stderr, "%s\n", diag.msgs[i]);
        log_error(lr == -ETIMEDOUT ? "the manifest %s could not be checked: nothing was started"
                                   : "the manifest %s is not valid: nothing was started", opts->manifest);
        diag_free(&diag);
        if (opts->boot)
            boot_fail(POWER_POWEROFF, NULL);   /* no on_error to read: the default */
        return 2;
    }
    if (!opts->boot && seal_if_needed(d.m, opts->argv) < 0) {
        manifest_free(d.m);
        return 1;
    }
    log_stage("manifest read");
    if (!d.m->system.syslog) {
        log_set_sink(NULL);
        logship_stop();
    }
    if (!opts->boot && d.m->n_volumes) {
        /* Finding disks by label and formatting them is the machine's
         * business: on a host, its own fstab mounts them. */
        log_error("cannot serve %s: [volume %s] (line %d) needs keel to boot the machine (PID 1); on a host, mount "
                  "the disk yourself and name its path in mount = or upper =", opts->manifest, d.m->volumes[0].name,
                  d.m->volumes[0].line);
        manifest_free(d.m);
        return 2;
    }
    /* Subscribed before the uplink goes up: the answer to its first router
     * solicitation must not be missed (the next may come minutes later). */
    if (opts->boot && wants_rdnss(d.m) && (d.rdnss_fd = rdnss_open(&err)) < 0)
        log_error("%s: no DNS servers from IPv6 router advertisements", err.msg);
    if (opts->boot && boot_setup_machine(d.m, &d.mods, &err) < 0) {
        log_error("%s", err.msg);
        boot_fail(d.m->system.on_error, d.m->system.rescue_shell);
    }
    /* After the fstab (the file is on persistent storage), before any container. */
    if (opts->boot && d.m->system.update_volume)
        choose_slot(&d);
    if (opts->boot)
        restore_clock(d.m);
    else if (d.m->system.ntp || d.m->system.clock_file)
        log_info("ntp and clock_file apply in boot mode only: the host's clock is left alone");
    /* Its fstab and volumes are mounted now (keel run mounts none): what
     * the load could not read there is digested for keel apply, bounded as
     * the load was (a network file system's server may be gone already). */
    if (supervisor_digest_mounted_bounded(d.m) == -ETIMEDOUT)
        log_warn("the files the manifest names on [system] fstab file systems and volumes did not answer within "
                 "%d s: not digested (keel apply counts them as changed)", SUP_PREFLIGHT_S);
    if (daemon_setup(&d, &err) < 0) {
        log_error("%s", err.msg);
        if (opts->boot)
            boot_fail(d.m->system.on_error, d.m->system.rescue_shell);
        daemon_teardown(&d);
        manifest_free(d.m);
        manifest_free(d.machine_m);
        return 1;
    }
#ifdef KEEL_TEST_HOOKS
    if (opts->boot)
        arm_test_hooks(&d);
#endif
    if (d.slot.trying != SLOT_NONE &&
        update_watch_new(&d.uw, d.loop, d.sup, d.m, d.slot.trying, update_done, &d, &err) < 0)
        log_error("update: %s: slot %s cannot commit; the next boot rolls back", err.msg, slot_name(d.slot.trying));
    log_stage("ready to start containers");
    late_prepare(&d);
    if (opts->boot && supervisor_subscribe(d.sup, settle_on_event, &d) < 0)
        settle_schedule(&d);
    supervisor_start_all(d.sup, &err);
    if (d.mods.after)
        late_after_start_all(&d);
    if (opts->boot && !start_under_way(&d))
        settle_schedule(&d);
    /* What the set-up allocated and freed (the manifest's text, file reads,
     * the plan) goes back to the kernel: PID 1's resident memory is then
     * what it keeps (malloc_trim also releases free pages inside the heap). */
    (void)malloc_trim(0);
    code = 0;   /* a stop signal ends keel run with 0; a finished main sets its status */

    for (;;) {
        if (!d.stopping && !d.staying && supervisor_finished(d.sup, &status)) {
            code = exit_code(status);
            containers_finished(&d, status);
        }
        if (d.stopping && supervisor_all_down(d.sup))
            break;
        if (loop_run_once(d.loop, &err) < 0) {
            /* epoll itself failing leaves nothing to serve with: stop cleanly. */
            log_error("%s", err.msg);
            begin_stop(&d, opts->boot ? POWER_REBOOT : POWER_NONE, "event loop failure");
        }
    }
    /* Nothing is served any more: the shutdown's lines may wait a little
     * for a slow console (bounded: one that never drains cannot hang it). */
    log_patience(1000);
    if (!d.quiet_stop)
        log_info("all containers are down");
    /* Before boot_final unmounts the file system the clock file is on. */
    if (opts->boot && d.m->system.clock_file) {
        if (timesync_save(d.m->system.clock_file, &err) < 0)
            log_error("%s", err.msg);
        else
            log_info("clock saved to %s", d.m->system.clock_file);
    }
    /* keel run exits right after: its exit closes the fds (util.h). */
    if (!opts->boot)
        close_defer_to_exit();
    daemon_teardown(&d);
    enum power_action action = d.action;
    _cleanup_free_ char *rescue_shell = d.m->system.rescue_shell ? strdup(d.m->system.rescue_shell) : NULL;
    manifest_free(d.m);
    manifest_free(d.machine_m);
    if (opts->boot && action == POWER_SHELL) {
        /* on_error = shell after the containers started (a module loaded
         * after the first start failed): as boot_fail does. */
        boot_rescue_shell(rescue_shell);
        action = POWER_POWEROFF;
    }
    if (opts->boot)
        boot_final(action == POWER_NONE ? POWER_POWEROFF : action);
    return code;
}
