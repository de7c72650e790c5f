/* netdrv — drives keel's net module without the rest of keel, for
 * tests/host/test_net.sh.  Run it only inside a throw-away network namespace.
 *
 *   netdrv [--run-dir DIR] [--network NAME,SUBNET/PREFIX[,gw=IP][,mtu=N][,isolate][,hp=PORT[/udp][+PORT...]]
 *                                     [,lan=no][,link_local][,v6=PREFIX/LEN][,gw6=IP6]]...
 *          [--container NAME,MODE[,net=NAME][,ip=IP][,ip6=IP6][,port=[HOST_IP:]HP:CP[/udp]][,rate=BITS]]...
 *   MODE: none | host | bridge | container:NAME
 *
 * Then reads commands on stdin, one per line, answering one line each:
 *   up NAME      net_container_netns   -> "ok up NAME ino=INODE ip=IP us=MICROSECONDS" / "ok up NAME host"
 *   down NAME    net_container_release, its child waited for (net_release_wait) -> "ok down NAME"
 *   down-held NAME  net_container_release, its child (if any) stopped with SIGSTOP at once:
 *                the release stays under way -> "ok down-held NAME pid=PID" (0: no child)
 *   resume       the held children continued and waited for -> "ok resume N"
 *   hosts NAME   net_hosts_file        -> the file, then "ok hosts"
 *   iface NAME   net_interface_configure of --interface NAME[,KEY=VALUE...] (an [interface] section)
 *                                      -> "ok iface NAME"
 *   rdnss        (with an address6 = auto interface) waits up to 10 s for DNS servers
 *                from router advertisements, prints the resolv.conf keel writes, then
 *                "ok rdnss N"
 *   plan         net_plan_machine + net_plan of each container, then "ok plan"
 *   quit         net_shutdown          -> "ok quit", exit 0
 *   kill         exit at once without net_shutdown (a crashed keel)
 * Errors answer "error: MESSAGE".  The options are turned into manifest text
 * and loaded with manifest_load_buffer (so a bridge container without net= is
 * on the manifest's default network keel0); an invalid manifest prints
 * "invalid: netdrv.ini:LINE: message" lines and exits 3.
 *
 *   netdrv --table-exists   prints yes/no: does nf_tables table inet keel exist
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keel/log.h"
#include "keel/manifest.h"
#include "keel/net.h"
#include "keel/nft.h"
#include "keel/boot.h"
#include "keel/rdnss.h"
#include <poll.h>
#include "keel/util.h"

/* The options become manifest text, loaded by manifest_load_buffer: netdrv sees
 * the manifest keel would (the default network keel0 included), not a copy of
 * its rules. */
static FILE *ini;
static struct manifest *man;

static void die(const char *msg, const char *arg)
{
    fprintf(stderr, "netdrv: %s%s\n", msg, arg ? arg : "");
    exit(2);
}

static void add_network(char *spec)
{
    char *save = NULL;
    const char *name = strtok_r(spec, ",", &save);
    const char *sub = strtok_r(NULL, ",", &save);
    if (!name || !sub || !strchr(sub, '/'))
        die("bad --network subnet", NULL);
    fprintf(ini, "[network %s]\nsubnet = %s\n", name, sub);
    for (char *t; (t = strtok_r(NULL, ",", &save));) {
        if (str_starts(t, "gw="))
            fprintf(ini, "gateway = %s\n", t + 3);
        else if (str_starts(t, "mtu="))
            fprintf(ini, "mtu = %s\n", t + 4);
        else if (strcmp(t, "isolate") == 0)
            fprintf(ini, "isolate = yes\n");
        else if (str_starts(t, "hp=")) {
            fprintf(ini, "host_ports = ");
            for (const char *p = t + 3; *p; p++)
                fputc(*p == '+' ? ' ' : *p, ini);
            fputc('\n', ini);
        } else if (strcmp(t, "lan=no") == 0)
            fprintf(ini, "lan = no\n");
        else if (strcmp(t, "link_local") == 0)
            fprintf(ini, "link_local = yes\n");
        else if (str_starts(t, "v6="))
            fprintf(ini, "subnet6 = %s\n", t + 3);
        else if (str_starts(t, "gw6="))
            fprintf(ini, "gateway6 = %s\n", t + 4);
        else
            die("bad --network option: ", t);
    }
}

static void add_container(char *spec)
{
    char *save = NULL;
    const char *name = strtok_r(spec, ",", &save);
    const char *mode = strtok_r(NULL, ",", &save);
    if (!name || !mode)
        die("missing mode", NULL);
    /* layers and command are required; netdrv never starts the container. */
    fprintf(ini, "[container %s]\nlayers = /\ncommand = /bin/true\nnetwork = %s\n", name, mode);
    for (char *t; (t = strtok_r(NULL, ",", &save));) {
        if (str_starts(t, "net="))
            fprintf(ini, "bridge = %s\n", t + 4);
        else if (str_starts(t, "ip="))
            fprintf(ini, "ip = %s\n", t + 3);
        else if (str_starts(t, "ip6="))
            fprintf(ini, "ip6 = %s\n", t + 4);
        else if (str_starts(t, "rate="))
            fprintf(ini, "net_rate = %s\n", t + 5);
        else if (str_starts(t, "port="))
            fprintf(ini, "ports = %s\n", t + 5);
        else
            die("bad --container option: ", t);
    }
}

/* NAME[,KEY=VALUE...]: an [interface NAME] section (the uplink). */
static void add_interface(char *spec)
{
    char *save = NULL;
    const char *name = strtok_r(spec, ",", &save);
    if (!name)
        die("missing interface name", NULL);
    fprintf(ini, "[interface %s]\n", name);
    for (char *t; (t = strtok_r(NULL, ",", &save));) {
        char *eq = strchr(t, '=');
        if (!eq)
            die("bad --interface option: ", t);
        *eq = '\0';
        fprintf(ini, "%s = %s\n", t, eq + 1);
    }
}

static struct container_spec *find(const char *name)
{
    int i = manifest_find_container(man, name);
    return i < 0 ? NULL : &man->containers[i];
}

int main(int argc, char **argv)
{
    const char *run_dir = "/run/keel";
    bool verbose = getenv("NETDRV_DEBUG") != NULL;
    if (argc == 2 && strcmp(argv[1], "--table-exists") == 0) {
        /* Whether nf_tables table inet keel exists: "yes" / "no". */
        struct kerr e = { 0 };
        int fd = nft_open(&e);
        int r = fd < 0 ? fd : nft_table_exists(fd, &e);
        if (r < 0) {
            printf("error: %s\n", e.msg);
            return 1;
        }
        printf("%s\n", r ? "yes" : "no");
        return 0;
    }
    char *text = NULL;
    size_t text_len = 0;
    ini = open_memstream(&text, &text_len);
    if (!ini)
        die("out of memory", NULL);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--run-dir") == 0 && i + 1 < argc)
            run_dir = argv[++i];
        else if (strcmp(argv[i], "--network") == 0 && i + 1 < argc)
            add_network(argv[++i]);
        else if (strcmp(argv[i], "--container") == 0 && i + 1 < argc)
            add_container(argv[++i]);
        else if (strcmp(argv[i], "--interface") == 0 && i + 1 < argc)
            add_interface(argv[++i]);
        else
            die("bad argument: ", argv[i]);
    }
    log_setup(2, verbose ? LOG_LEVEL_DEBUG : LOG_LEVEL_WARN);
    setvbuf(stdout, NULL, _IOLBF, 0);

    if (fclose(ini) != 0)
        die("out of memory", NULL);
    struct diag d = { 0 };
    if (manifest_load_buffer("netdrv.ini", text, text_len, MANIFEST_NO_FS_CHECKS, &man, &d) < 0) {
        for (size_t i = 0; i < d.count; i++)
            printf("invalid: %s\n", d.msgs[i]);
        return 3;
    }
    free(text);
    struct kerr err = { 0 };
    /* As keel in boot mode: subscribed to router advertisement options
     * before any uplink is configured. */
    int rdnss_fd = -1;
    struct rdnss ra = { .n = 0 };
    for (size_t i = 0; i < man->n_interfaces; i++)
        if (man->interfaces[i].address6_auto && rdnss_fd < 0 && (rdnss_fd = rdnss_open(&err)) < 0) {
            printf("error: %s\n", err.msg);
            return 1;
        }
    struct net_ctx *ctx = NULL;
    uint64_t t0 = now_ns();
    if (net_init(&ctx, man, run_dir, &err) < 0) {
        printf("error: %s\n", err.msg);
        return 1;
    }
    printf("ok init us=%llu\n", (unsigned long long)((now_ns() - t0) / 1000));

    char line[512];
    pid_t held[16];   /* down-held: release children stopped mid-way */
    size_t n_held = 0;
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\n")] = '\0';
        char *arg = strchr(line, ' ');
        if (arg)
            *arg++ = '\0';
        struct container_spec *c = arg ? find(arg) : NULL;
        if (strcmp(line, "rdnss") == 0 && rdnss_fd >= 0) {
            /* Waits (10 s at most) for a DNS server from an advertisement,
             * then prints the resolv.conf keel writes from them. */
            for (int i = 0; i < 100 && ra.n == 0; i++) {
                struct pollfd p = { .fd = rdnss_fd, .events = POLLIN };
                bool changed = false;
                if (poll(&p, 1, 100) > 0 && rdnss_read(rdnss_fd, &ra, now_ms(), &changed, &err) < 0)
                    break;
            }
            char **servers = rdnss_servers(&ra);
            char *text = servers ? boot_resolv_conf_ra(NULL, servers) : NULL;
            printf("%sok rdnss %zu\n", text ? text : "", ra.n);
            free(text);
            strv_free(servers);
            continue;
        }
        if (strcmp(line, "iface") == 0 && arg) {
            size_t k = 0;
            while (k < man->n_interfaces && strcmp(man->interfaces[k].name, arg) != 0)
                k++;
            if (k == man->n_interfaces)
                printf("error: no interface %s\n", arg);
            else if (net_interface_configure(&man->interfaces[k], &err) < 0)
                printf("error: %s\n", err.msg);
            else
                printf("ok iface %s\n", arg);
            continue;
        }
        if (strcmp(line, "quit") == 0) {
            net_shutdown(ctx);
            manifest_free(man);
            printf("ok quit\n");
            return 0;
        } else if (strcmp(line, "resume") == 0) {
            size_t n = n_held;
            for (; n_held; n_held--) {
                (void)kill(held[n_held - 1], SIGCONT);
                net_release_wait(ctx, held[n_held - 1]);
            }
            printf("ok resume %zu\n", n);
        } else if (strcmp(line, "kill") == 0) {
            _exit(9);
        } else if (strcmp(line, "plan") == 0) {
            net_plan_machine(man, stdout);
            for (size_t i = 0; i < man->n_containers; i++) {
                printf("container %s\n", man->containers[i].name);
                net_plan(man, &man->containers[i], stdout);
            }
            printf("ok plan\n");
        } else if (!c) {
            printf("error: unknown command or container: %s %s\n", line, arg ? arg : "");
        } else if (strcmp(line, "up") == 0) {
            int fd = -1;
            t0 = now_ns();
            if (net_container_netns(ctx, c, &fd, &err) < 0) {
                printf("error: %s\n", err.msg);
                continue;
            }
            uint64_t us = (now_ns() - t0) / 1000;
            if (fd < 0) {
                printf("ok up %s host\n", c->name);
                continue;
            }
            struct stat st;
            if (fstat(fd, &st) < 0)
                st.st_ino = 0;
            close(fd);
            char a[INET_ADDRSTRLEN];
            struct in_addr ip = net_container_ip(ctx, c);
            inet_ntop(AF_INET, &ip, a, sizeof a);
            printf("ok up %s ino=%lu ip=%s us=%llu\n", c->name, (unsigned long)st.st_ino, a,
                   (unsigned long long)us);
        } else if (strcmp(line, "down") == 0) {
            net_release_wait(ctx, net_container_release(ctx, c, false));
            printf("ok down %s\n", c->name);
        } else if (strcmp(line, "down-held") == 0) {
            pid_t pid = net_container_release(ctx, c, false);
            if (pid > 0 && (kill(pid, SIGSTOP) < 0 || n_held == sizeof held / sizeof *held)) {
                printf("error: cannot hold child %d\n", (int)pid);
                net_release_wait(ctx, pid);
                continue;
            }
            if (pid > 0)
                held[n_held++] = pid;
            printf("ok down-held %s pid=%d\n", c->name, (int)pid);
        } else if (strcmp(line, "hosts") == 0) {
            char *h = net_hosts_file(ctx, man, c);
            printf("%sok hosts\n", h ? h : "");
            free(h);
        } else {
            printf("error: unknown command %s\n", line);
        }
    }
    net_shutdown(ctx);
    manifest_free(man);
    return 0;
}
