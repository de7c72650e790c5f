/* daemon.c — the serving side of keel, see daemon.h.
 *
 * main() in boot mode reads like the boot script it replaces:
 *   mount the system, read the manifest, apply [system], start containers,
 *   serve until asked to stop, stop containers in order, power off.
 */
#include "keel/daemon.h"
#include "keel/boot.h"
#include "keel/cgroup.h"
#include "keel/control.h"
#include "keel/log.h"
#include "keel/rlimit.h"
#include "keel/net.h"
#include "keel/rdnss.h"
#include "keel/loop.h"
#include "keel/manifest.h"
#include "keel/parse.h"
#include "keel/supervise.h"
#include "keel/util.h"
#include "keel/watchdog.h"

#include <errno.h>
#include <fcntl.h>
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
    struct supervisor *sup;
    struct cgroup_root cgroup;
    struct net_ctx *net;
    struct control *ctl;
    struct watchdog *wd;        /* boot mode: [system] watchdog, NULL when none */
    int sigfd;
    int button_fd;              /* boot mode: the power button's evdev device */
    int rdnss_fd;               /* boot mode, address6 = auto: router advertisement options, -1 */
    struct rdnss rdnss;         /* their DNS servers (RFC 8106), in /etc/resolv.conf */
    int64_t rdnss_timer;        /* the next lifetime's end, 0 when none is armed */
    bool staying;               /* on_exit = stay after the containers finished */
    bool stopping;
    enum power_action action;   /* what the stop leads to (boot mode) */
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
    log_info("stopping all containers (%s)", why);
    supervisor_stop_all(d->sup);
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
        if (sig == SIGHUP)
            continue;   /* reserved for a manifest reload */
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
    struct kerr err = { 0 };
    if (!ra || boot_write_resolv_conf(d->m->system.dns, ra, &err) < 0)
        log_error("%s", ra ? err.msg : "cannot write /etc/resolv.conf: out of memory");
    else
        log_info("dns: %zu server(s) from IPv6 router advertisements in /etc/resolv.conf", strv_len(ra));
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

/* Everything between a valid manifest and serving.  0 / negative errno. */
static int daemon_setup(struct daemon *d, struct kerr *err)
{
    const struct daemon_opts *opts = d->opts;
    if (!opts->boot && prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
        return kerr_set(err, errno, "cannot become a child subreaper");
    int r = mkdir_p(opts->run_dir, 0700);
    if (r < 0)
        return kerr_set(err, -r, "cannot create %s", opts->run_dir);
    if ((r = loop_new(&d->loop, err)) < 0 || (d->sigfd = r = signals_fd(err)) < 0)
        return r;
    if ((r = loop_add_fd(d->loop, d->sigfd, EPOLLIN, on_signal, d)) < 0)
        return kerr_set(err, -r, "cannot watch signals");
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
        d->button_fd = boot_power_button_open(err);
        if (d->button_fd < 0)
            log_warn("%s: the power button is not watched", err->msg);
        else if (loop_add_fd(d->loop, d->button_fd, EPOLLIN, on_power_button, d) < 0)
            log_warn("cannot watch the power button");
        if (d->rdnss_fd >= 0 && loop_add_fd(d->loop, d->rdnss_fd, EPOLLIN, on_rdnss, d) < 0)
            log_error("cannot watch router advertisements: no DNS servers from them");
        else if (d->rdnss_fd >= 0)
            on_rdnss(d->loop, d->rdnss_fd, EPOLLIN, d);   /* what came during the boot */
    }
    struct supervisor_opts sopts = {
        .boot_mode = opts->boot, .run_dir = opts->run_dir, .power = on_power, .power_data = d,
        .cgroup = &d->cgroup, .net = d->net,
    };
    if ((r = supervisor_new(&d->sup, d->loop, d->m, &sopts, err)) < 0)
        return r;
    log_stage("supervisor ready");
    /* The control listeners ([system] control): all of them or none. */
    struct control_backend be = control_backend_supervisor(d->sup, &d->cgroup);
    if ((r = control_new(&d->ctl, d->loop, d->m, &be, NULL, err)) < 0)
        return r;
    /* Last, so that no failure above leaves an armed watchdog behind the
     * on_error pause.  A watchdog that cannot be driven is an error on the
     * console, not a reason to refuse to serve. */
    if (opts->boot && d->m->system.watchdog &&
        watchdog_open(&d->wd, d->loop, d->m->system.watchdog, d->m->system.watchdog_timeout_ms, err) < 0)
        log_error("%s: the machine runs without its watchdog", err->msg);
    return 0;
}

/* What the end of the main container (or of all) leads to. */
static void containers_finished(struct daemon *d, int status)
{
    if (!d->opts->boot) {
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
    control_free(d->ctl);   /* first: it is subscribed to the supervisor's events */
    d->ctl = NULL;
    supervisor_free(d->sup);
    d->sup = NULL;
    net_shutdown(d->net);
    d->net = NULL;
    cgroup_release(&d->cgroup);
    if (d->button_fd >= 0)
        loop_del_fd(d->loop, d->button_fd);
    close_safe(d->button_fd);
    if (d->rdnss_fd >= 0)
        loop_del_fd(d->loop, d->rdnss_fd);
    close_safe(d->rdnss_fd);
    close_safe(d->sigfd);
    loop_free(d->loop);
    d->loop = NULL;
}

int daemon_main(const struct daemon_opts *opts)
{
    struct daemon d = { .opts = opts, .sigfd = -1, .button_fd = -1, .rdnss_fd = -1,
                        .cgroup = { .keel_fd = -1, .start_fd = -1, .lock_fd = -1 } };
    struct kerr err = { 0 };
    struct diag diag = { 0 };
    int status = 0, code = 1;

    log_setup(2, LOG_LEVEL_INFO);
    /* PID 1's loop (and the watchdog it pets) must never wait for a slow
     * console: lines it cannot take are dropped and counted (log.h). */
    int nb = log_nonblocking();
    if (nb < 0)
        log_warn("cannot make the console output non-blocking: %s", strerror(-nb));
    log_stage("keel start");
    long nofile = rlimit_raise_own_nofile();
    if (nofile < 0)
        log_warn("cannot raise keel's open-file limit to its hard limit: %s", strerror((int)-nofile));
    if (manifest_load(opts->manifest, 0, &d.m, &diag) < 0) {
        for (size_t i = 0; i < diag.count; i++)
            fprintf(stderr, "%s\n", diag.msgs[i]);
        log_error("the manifest %s is not valid: nothing was started", opts->manifest);
        diag_free(&diag);
        if (opts->boot)
            boot_fail(POWER_POWEROFF, NULL);   /* no on_error to read: the default */
        return 2;
    }
    log_stage("manifest read");
    /* Subscribed before the uplink goes up: the answer to its first router
     * solicitation must not be missed (the next may come minutes later). */
    if (opts->boot && wants_rdnss(d.m) && (d.rdnss_fd = rdnss_open(&err)) < 0)
        log_error("%s: no DNS servers from IPv6 router advertisements", err.msg);
    if (opts->boot && boot_setup_machine(d.m, &err) < 0) {
        log_error("%s", err.msg);
        boot_fail(d.m->system.on_error, d.m->system.rescue_shell);
    }
    if (daemon_setup(&d, &err) < 0) {
        log_error("%s", err.msg);
        if (opts->boot)
            boot_fail(d.m->system.on_error, d.m->system.rescue_shell);
        daemon_teardown(&d);
        manifest_free(d.m);
        return 1;
    }
#ifdef KEEL_TEST_HOOKS
    if (opts->boot)
        arm_test_hooks(&d);
#endif
    log_stage("ready to start containers");
    supervisor_start_all(d.sup, &err);
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
    log_info("all containers are down");
    daemon_teardown(&d);
    enum power_action action = d.action;
    manifest_free(d.m);
    if (opts->boot)
        boot_final(action == POWER_NONE ? POWER_POWEROFF : action);
    return code;
}
