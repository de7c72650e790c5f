/* cgprobe — the static payload of tests/vm/test_cgroup.sh.  One binary, one
 * role per container (argv[1]); the observer roles read keel's cgroup tree
 * through a read-only bind mount of /sys/fs/cgroup at /cg and print
 * "CGTEST ..." lines that the test script asserts on.
 *
 *   heart FILE          writes an increasing counter to FILE every 100 ms
 *   spin                burns CPU forever
 *   forkbomb GO         once GO exists, every process forks as fast as it can
 *                       until GO disappears
 *   blink FILE HOLD     adds one to the counter in FILE and exits 1 (a container
 *                       that keel restarts over and over); while HOLD exists it
 *                       first waits, with FILE.holding present
 *   hog GO              once GO exists, allocates and touches memory 1 MiB at a
 *                       time (until the OOM killer ends it); idles otherwise
 *   forker              ignores SIGTERM and forks continuously (children fork too)
 *   stopwatch DIR       waits until cgroup DIR runs >= 2 processes, then until it
 *                       is empty (the container was stopped); ignores SIGTERM
 *   observe             the measurements: cpu, pids, oom (see below); before
 *                       the end it waits (bounded) for /share/oom2-done
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static int exists(const char *p)
{
    return access(p, F_OK) == 0;
}

/* Reads a small file into buf; -1 when it cannot be read. */
static int slurp(const char *path, char *buf, size_t n)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    size_t r = fread(buf, 1, n - 1, f);
    buf[r] = '\0';
    fclose(f);
    return 0;
}

/* The value of "KEY N" in a flat keyed file, or -1. */
static long long keyed(const char *path, const char *key)
{
    char buf[4096];
    if (slurp(path, buf, sizeof buf) < 0)
        return -1;
    size_t kl = strlen(key);
    for (char *l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (strncmp(l, key, kl) == 0 && l[kl] == ' ')
            return strtoll(l + kl + 1, NULL, 10);
    return -1;
}

static long long number(const char *path)
{
    char buf[64];
    if (slurp(path, buf, sizeof buf) < 0)
        return -1;
    return strtoll(buf, NULL, 10);
}

static int count_lines(const char *path)
{
    char buf[65536];
    if (slurp(path, buf, sizeof buf) < 0)
        return -1;
    int n = 0;
    for (char *p = buf; *p; p++)
        n += *p == '\n';
    return n;
}

/* NAME/FILE in the containers' cgroup as the observer sees it (keel's tree
 * bound at /cg): /cg/keel/containers, or /cg/keel with a keel from before
 * the containers had a cgroup of their own.  Rotating buffers: a few results
 * may be in use at once. */
static const char *cgp(const char *name, const char *file)
{
    static char bufs[8][256];
    static unsigned next;
    static const char *base;
    if (!base)
        base = exists("/cg/keel/containers") ? "/cg/keel/containers" : "/cg/keel";
    char *b = bufs[next++ % 8];
    snprintf(b, sizeof bufs[0], "%s%s%s%s%s", base, name ? "/" : "", name ? name : "", file ? "/" : "",
             file ? file : "");
    return b;
}

static void chomp_print(const char *label, const char *path)
{
    char buf[256];
    if (slurp(path, buf, sizeof buf) < 0)
        snprintf(buf, sizeof buf, "(unreadable)");
    buf[strcspn(buf, "\n")] = '\0';
    printf("CGTEST %s=%s\n", label, buf);
}

__attribute__((noreturn)) static int heart(const char *file)
{
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s.tmp", file);
    for (long n = 1;; n++) {
        FILE *f = fopen(tmp, "we");
        if (f) {
            fprintf(f, "%ld\n", n);
            fclose(f);
            rename(tmp, file);
        }
        if (n == 1)
            printf("heart: beating\n");
        sleep_ms(100);
    }
}

__attribute__((noreturn)) static int spin(void)
{
    volatile uint64_t x = 0;
    printf("spin: spinning\n");
    fflush(stdout);
    for (;;)
        x++;
}

static void touch(const char *p);

static int blink(const char *file, const char *hold)
{
    char holding[256];
    snprintf(holding, sizeof holding, "%s.holding", file);
    if (*hold && exists(hold)) {
        touch(holding);
        while (exists(hold))
            sleep_ms(50);
        unlink(holding);
    }
    long long n = number(file);
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s.tmp", file);
    FILE *f = fopen(tmp, "we");
    if (f) {
        fprintf(f, "%lld\n", n < 0 ? 1 : n + 1);
        fclose(f);
        rename(tmp, file);
    }
    return 1;
}

static int forkbomb(const char *go)
{
    while (!exists(go))
        sleep_ms(20);
    printf("bomb: go\n");
    fflush(stdout);
    while (exists(go))
        fork();   /* children run the same loop; failures (EAGAIN) are the point */
    return 0;
}

__attribute__((noreturn)) static int hog(const char *go)
{
    for (;;) {
        if (exists(go)) {
            printf("hog: allocating\n");
            fflush(stdout);
            for (int mib = 1; mib <= 1024; mib++) {
                char *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (p == MAP_FAILED)
                    break;
                memset(p, mib, 1 << 20);
                if (mib % 8 == 0) {
                    printf("hog: %d MiB\n", mib);
                    fflush(stdout);
                }
            }
            printf("hog: 1 GiB and not killed\n");
            fflush(stdout);
            for (;;)
                pause();
        }
        sleep_ms(50);
    }
}

__attribute__((noreturn)) static int forker(void)
{
    signal(SIGTERM, SIG_IGN);    /* inherited: no process leaves on the stop signal */
    signal(SIGCHLD, SIG_IGN);    /* children are reaped by the kernel */
    printf("forker: forking\n");
    fflush(stdout);
    for (;;) {
        pid_t p = fork();
        if (p == 0) {
            if (fork() == 0) {   /* a grandchild, orphaned to PID 1 of the container */
                sleep_ms(300);
                _exit(0);
            }
            sleep_ms(200);
            _exit(0);
        }
        sleep_ms(10);
    }
}

static int stopwatch(const char *dir)
{
    char procs[512], events[512];
    snprintf(procs, sizeof procs, "%s/cgroup.procs", dir);
    snprintf(events, sizeof events, "%s/cgroup.events", dir);
    signal(SIGTERM, SIG_IGN);
    uint64_t deadline = now_us() + 120000000u;
    int n = 0;
    while ((n = count_lines(procs)) < 2) {
        if (now_us() > deadline) {
            printf("CGTEST stop forker never ran procs=%d\n", n);
            return 1;
        }
        sleep_ms(20);
    }
    printf("CGTEST stop forker running procs=%d\n", n);
    fflush(stdout);
    while (now_us() < deadline) {
        long long populated = keyed(events, "populated");
        if (populated == 0 || !exists(dir)) {
            n = count_lines(procs);
            printf("CGTEST stop forker empty procs=%d (%s)\n", n < 0 ? 0 : n,
                   exists(dir) ? "populated 0" : "cgroup removed");
            return 0;
        }
        sleep_ms(5);
    }
    printf("CGTEST stop forker timeout procs=%d\n", count_lines(procs));
    return 1;
}

static int wait_populated(const char *name, int secs)
{
    char path[256];
    snprintf(path, sizeof path, "%s", cgp(name, "cgroup.procs"));
    for (int i = 0; i < secs * 50; i++) {
        if (count_lines(path) > 0)
            return 0;
        sleep_ms(20);
    }
    printf("CGTEST error %s never ran\n", name);
    return -1;
}

/* Waits until container NAME's cgroup holds no process (its bomb is gone). */
static void wait_gone(const char *name, int secs)
{
    for (int i = 0; i < secs * 20; i++) {
        long long c = number(cgp(name, "pids.current"));
        if (c <= 0)
            return;
        sleep_ms(50);
    }
    printf("CGTEST error %s still has processes\n", name);
}

static void touch(const char *p)
{
    FILE *f = fopen(p, "we");
    if (f)
        fclose(f);
}

/* keel's metrics endpoint (issue 16; the observer has network = host):
 * GET /metrics from 127.0.0.1:9100, bounded retries, and each sample of
 * container `ctr` printed as "CGTEST metrics LINE".  No fork: the fork
 * bombs may have filled the containers' pids budget. */
static void metrics_scrape(const char *ctr)
{
    static char buf[1 << 20];
    char want[64];
    snprintf(want, sizeof want, "{container=\"%s\"", ctr);
    for (int attempt = 0; attempt < 50; attempt++) {   /* 10 s */
        size_t len = 0;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(9100) };
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
            static const char req[] = "GET /metrics HTTP/1.1\r\nHost: keel\r\n\r\n";
            if (write(fd, req, sizeof req - 1) == (ssize_t)(sizeof req - 1)) {
                ssize_t n;
                while (len < sizeof buf - 1 && (n = read(fd, buf + len, sizeof buf - 1 - len)) > 0)
                    len += (size_t)n;
            }
        }
        if (fd >= 0)
            close(fd);
        buf[len] = 0;
        if (strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0) {
            for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
                if (strstr(line, want))
                    printf("CGTEST metrics %s\n", line);
            fflush(stdout);
            return;
        }
        sleep_ms(200);
    }
    printf("CGTEST metrics unreachable\n");
    fflush(stdout);
}

static int observe(void)
{
    chomp_print("keel controllers", "/cg/keel/cgroup.subtree_control");
    chomp_print("keel supervisor memory.min", "/cg/keel/supervisor/memory.min");

    /* cpu: usage of the spinner over ~2 s of wall time. */
    if (wait_populated("spin", 60) == 0) {
        chomp_print("cpu spin cpu.max", cgp("spin", "cpu.max"));
        sleep_ms(500);
        long long u0 = keyed(cgp("spin", "cpu.stat"), "usage_usec");
        long long n0 = keyed(cgp("spin", "cpu.stat"), "nr_throttled");
        uint64_t t0 = now_us();
        sleep_ms(2000);
        long long u1 = keyed(cgp("spin", "cpu.stat"), "usage_usec");
        long long n1 = keyed(cgp("spin", "cpu.stat"), "nr_throttled");
        uint64_t t1 = now_us();
        double ratio = (double)(u1 - u0) / (double)(t1 - t0);
        printf("CGTEST cpu spin usage_usec=%lld wall_usec=%llu ratio=%.3f throttled=%lld\n", u1 - u0,
               (unsigned long long)(t1 - t0), ratio, n1 - n0);
        fflush(stdout);
    }
    /* The OOM counting scenario (hog2, hog3, oomclient) waits for this: on
     * the guest's one CPU its hogs took so much of the spinner's time that
     * it stayed under its quota and was never throttled. */
    touch("/share/oom2-go");

    /* pids: the fork bomb for 3 s, while the heart keeps beating. */
    if (wait_populated("bomb", 60) == 0 && wait_populated("heart", 60) == 0) {
        chomp_print("pids bomb pids.max", cgp("bomb", "pids.max"));
        long long b0 = number("/share/beat");
        touch("/share/go-bomb");
        long long max_seen = 0;
        uint64_t end = now_us() + 3000000u;
        while (now_us() < end) {
            long long c = number(cgp("bomb", "pids.current"));
            if (c > max_seen)
                max_seen = c;
            sleep_ms(10);
        }
        long long b1 = number("/share/beat");
        long long ev = keyed(cgp("bomb", "pids.events"), "max");
        unlink("/share/go-bomb");
        printf("CGTEST pids bomb max_seen=%lld events_max=%lld\n", max_seen, ev);
        printf("CGTEST pids heartbeat before=%lld after=%lld\n", b0, b1);
        fflush(stdout);
    }

    /* default pids (issue 22 item 7).  Phase A, the case: one fork
     * bomb that says nothing about pids stops at the default pids.max while
     * keel restarts phoenix (restart = always, exits at once) over and over. */
    if (wait_populated("solo", 60) == 0 && wait_populated("phoenix", 60) == 0) {
        chomp_print("pids default solo pids.max", cgp("solo", "pids.max"));
        long long p0 = number("/share/phoenix");
        touch("/share/go-solo");
        /* At least 6 s, and until the bomb has hit its limit (forks are
         * slow under TCG), at most 60 s. */
        long long seen = 0, ev = 0;
        uint64_t t0 = now_us();
        while (now_us() < t0 + 60000000u && (now_us() < t0 + 6000000u || ev < 1)) {
            long long c = number(cgp("solo", "pids.current"));
            if (c > seen)
                seen = c;
            ev = keyed(cgp("solo", "pids.events"), "max");
            sleep_ms(50);
        }
        long long p1 = number("/share/phoenix");
        unlink("/share/go-solo");
        printf("CGTEST pids default solo max_seen=%lld events_max=%lld\n", seen, ev);
        printf("CGTEST pids default phoenix before=%lld after=%lld\n", p0, p1);
        fflush(stdout);
        wait_gone("solo", 120);
    }
    /* Phase B, the reserve: three default bombs together fill the
     * containers' budget (phoenix waits meanwhile: a container start there
     * would rightly fail), and the machine keeps free tasks: keel's. */
    if (wait_populated("big1", 60) == 0 && wait_populated("big2", 60) == 0 && wait_populated("big3", 60) == 0) {
        chomp_print("pids containers pids.max", cgp(NULL, "pids.max"));
        chomp_print("pids kernel pid_max", "/proc/sys/kernel/pid_max");
        chomp_print("pids kernel threads-max", "/proc/sys/kernel/threads-max");
        touch("/share/phoenix-hold");
        for (int i = 0; i < 600 && !exists("/share/phoenix.holding"); i++)
            sleep_ms(50);
        touch("/share/go-big");
        /* Until the bombs have filled the budget, or (a keel without one)
         * the machine's tasks are all but gone; forks are slow under TCG:
         * at least 8 s, at most 90 s. */
        long long total = 0, tasks = 0, budget = number(cgp(NULL, "pids.max"));
        long long pmax = number("/proc/sys/kernel/pid_max"), tmax = number("/proc/sys/kernel/threads-max");
        long long lim = pmax < tmax ? pmax : tmax;
        uint64_t t0 = now_us();
        while (now_us() < t0 + 90000000u &&
               (now_us() < t0 + 8000000u || (budget > 0 ? total < budget : tasks < lim - 64))) {
            long long t = number(cgp(NULL, "pids.current"));
            if (t > total)
                total = t;
            /* /proc/loadavg: "... RUNNING/TASKS LASTPID", every task of the machine. */
            char buf[128];
            const char *slash;
            if (slurp("/proc/loadavg", buf, sizeof buf) == 0 && (slash = strchr(buf, '/'))) {
                long long n = strtoll(slash + 1, NULL, 10);
                if (n > tasks)
                    tasks = n;
            }
            sleep_ms(50);
        }
        unlink("/share/go-big");
        printf("CGTEST pids budget total_seen=%lld machine_tasks=%lld\n", total, tasks);
        fflush(stdout);
        wait_gone("big1", 120);
        wait_gone("big2", 120);
        wait_gone("big3", 120);
        unlink("/share/phoenix-hold");
    }

    /* oom: the hog against memory.max; it must be OOM-killed and restarted. */
    if (wait_populated("hog", 60) == 0) {
        chomp_print("oom hog memory.max", cgp("hog", "memory.max"));
        chomp_print("oom hog memory.oom.group", cgp("hog", "memory.oom.group"));
        long long b0 = number("/share/beat");
        touch("/share/go-hog");
        long long kills = 0;
        for (int i = 0; i < 1500 && kills < 1; i++) {   /* 30 s */
            long long k = keyed(cgp("hog", "memory.events"), "oom_kill");
            if (k > kills)
                kills = k;
            long long g = keyed(cgp("hog", "memory.events"), "oom_group_kill");
            if (g > kills)
                kills = g;
            sleep_ms(20);
        }
        unlink("/share/go-hog");   /* the restarted hog idles */
        printf("CGTEST oom hog oom_kill=%lld\n", kills);
        fflush(stdout);
        /* The restart: the cgroup runs a process again. */
        sleep_ms(200);
        if (wait_populated("hog", 30) == 0)
            printf("CGTEST oom hog running again\n");
        sleep_ms(1000);
        long long b1 = number("/share/beat");
        printf("CGTEST oom heartbeat before=%lld after=%lld\n", b0, b1);
    }
    /* standby = yes (issue 17): the prepared instance is a process of the
     * container's own cgroup, counted by pids.current beside the running
     * one (keel prepares it once the running one has exec'd). */
    if (wait_populated("standby", 60) == 0) {
        long long pc = 0;
        for (int i = 0; i < 1500 && pc < 2; i++) {   /* 30 s */
            pc = number(cgp("standby", "pids.current"));
            if (pc < 2)
                sleep_ms(20);
        }
        printf("CGTEST standby pids.current=%lld procs=%d\n", pc, count_lines(cgp("standby", "cgroup.procs")));
        fflush(stdout);
    }
    /* The client's second run of hog2 (test_cgroup.sh's oomclient.sh):
     * waited for, so that keel does not power off before it ends. */
    for (int i = 0; i < 1800 && !exists("/share/oom2-done"); i++)   /* 180 s */
        sleep_ms(100);
    /* After the timed scenarios, so that scraping cannot slow them. */
    metrics_scrape("ballast");
    printf("CGTEST done\n");
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *role = argc > 1 ? argv[1] : "";
    const char *arg = argc > 2 ? argv[2] : "";
    if (!strcmp(role, "heart"))
        return heart(arg);
    if (!strcmp(role, "spin"))
        return spin();
    if (!strcmp(role, "blink"))
        return blink(arg, argc > 3 ? argv[3] : "");
    if (!strcmp(role, "forkbomb"))
        return forkbomb(arg);
    if (!strcmp(role, "hog"))
        return hog(arg);
    if (!strcmp(role, "forker"))
        return forker();
    if (!strcmp(role, "stopwatch"))
        return stopwatch(arg);
    if (!strcmp(role, "observe"))
        return observe();
    fprintf(stderr, "usage: cgprobe heart|spin|forkbomb|hog|forker|stopwatch|observe [ARG]\n");
    return 2;
}
