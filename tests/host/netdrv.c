/* netdrv — drives keel's net module without the rest of keel, for
 * tests/host/test_net.sh.  Run it only inside a throw-away network namespace.
 *
 *   netdrv [--run-dir DIR] [--network NAME,SUBNET/PREFIX[,gw=IP][,mtu=N][,isolate]]...
 *          [--container NAME,MODE[,net=NAME][,ip=IP][,port=[HOST_IP:]HP:CP[/udp]][,rate=BITS]]...
 *   MODE: none | host | bridge | container:NAME
 *
 * Then reads commands on stdin, one per line, answering one line each:
 *   up NAME      net_container_netns   -> "ok up NAME ino=INODE ip=IP us=MICROSECONDS" / "ok up NAME host"
 *   down NAME    net_container_release -> "ok down NAME"
 *   hosts NAME   net_hosts_file        -> the file, then "ok hosts"
 *   plan         net_plan_machine + net_plan of each container, then "ok plan"
 *   quit         net_shutdown          -> "ok quit", exit 0
 *   kill         exit at once without net_shutdown (a crashed keel)
 * Errors answer "error: MESSAGE".
 *
 *   netdrv --table-exists   prints yes/no: does nf_tables table ip keel exist
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keel/log.h"
#include "keel/manifest.h"
#include "keel/net.h"
#include "keel/nft.h"
#include "keel/util.h"

static struct manifest man;

static void die(const char *msg, const char *arg)
{
    fprintf(stderr, "netdrv: %s%s\n", msg, arg ? arg : "");
    exit(2);
}

static struct in_addr ip4(const char *s)
{
    struct in_addr a;
    if (inet_pton(AF_INET, s, &a) != 1)
        die("bad address: ", s);
    return a;
}

static void add_network(char *spec)
{
    man.networks = realloc(man.networks, (man.n_networks + 1) * sizeof *man.networks);
    struct network_spec *n = &man.networks[man.n_networks++];
    memset(n, 0, sizeof *n);
    n->line = (int)man.n_networks;
    char *save = NULL;
    n->name = strdup(strtok_r(spec, ",", &save));
    char *sub = strtok_r(NULL, ",", &save);
    if (!sub || !strchr(sub, '/'))
        die("bad --network subnet", NULL);
    *strchr(sub, '/') = '\0';
    n->subnet = ip4(sub);
    n->prefix = (unsigned)atoi(sub + strlen(sub) + 1);
    for (char *t; (t = strtok_r(NULL, ",", &save));) {
        if (str_starts(t, "gw="))
            n->gateway = ip4(t + 3);
        else if (str_starts(t, "mtu="))
            n->mtu = (unsigned)atoi(t + 4);
        else if (strcmp(t, "isolate") == 0)
            n->isolate = true;
        else
            die("bad --network option: ", t);
    }
}

static void add_container(char *spec)
{
    man.containers = realloc(man.containers, (man.n_containers + 1) * sizeof *man.containers);
    struct container_spec *c = &man.containers[man.n_containers++];
    memset(c, 0, sizeof *c);
    c->line = 100 + (int)man.n_containers;
    char *save = NULL;
    c->name = strdup(strtok_r(spec, ",", &save));
    char *mode = strtok_r(NULL, ",", &save);
    if (!mode)
        die("missing mode", NULL);
    if (strcmp(mode, "none") == 0)
        c->net = NET_NONE;
    else if (strcmp(mode, "host") == 0)
        c->net = NET_HOST;
    else if (strcmp(mode, "bridge") == 0)
        c->net = NET_BRIDGE;
    else if (str_starts(mode, "container:")) {
        c->net = NET_CONTAINER;
        c->net_peer = strdup(mode + 10);
    } else
        die("bad mode: ", mode);
    for (char *t; (t = strtok_r(NULL, ",", &save));) {
        if (str_starts(t, "net="))
            c->bridge = strdup(t + 4);
        else if (str_starts(t, "ip="))
            c->ip = ip4(t + 3);
        else if (str_starts(t, "rate="))
            c->net_rate = strtoull(t + 5, NULL, 10);
        else if (str_starts(t, "port=")) {
            c->ports = realloc(c->ports, (c->n_ports + 1) * sizeof *c->ports);
            struct port_map *p = &c->ports[c->n_ports++];
            memset(p, 0, sizeof *p);
            p->line = c->line;
            p->proto = IPPROTO_TCP;
            char *v = t + 5;
            char *slash = strchr(v, '/');
            if (slash) {
                *slash = '\0';
                p->proto = strcmp(slash + 1, "udp") == 0 ? IPPROTO_UDP : IPPROTO_TCP;
            }
            char *last = strrchr(v, ':');
            if (!last)
                die("bad port: ", v);
            p->container_port = (uint16_t)atoi(last + 1);
            *last = '\0';
            char *mid = strrchr(v, ':');
            if (mid) {
                *mid = '\0';
                p->host_ip = ip4(v);
                p->host_port = (uint16_t)atoi(mid + 1);
            } else {
                p->host_port = (uint16_t)atoi(v);
            }
        } else
            die("bad --container option: ", t);
    }
}

static struct container_spec *find(const char *name)
{
    for (size_t i = 0; i < man.n_containers; i++)
        if (strcmp(man.containers[i].name, name) == 0)
            return &man.containers[i];
    return NULL;
}

int main(int argc, char **argv)
{
    const char *run_dir = "/run/keel";
    bool verbose = getenv("NETDRV_DEBUG") != NULL;
    man.path = "netdrv.ini";
    if (argc == 2 && strcmp(argv[1], "--table-exists") == 0) {
        /* Whether nf_tables table ip keel exists: "yes" / "no". */
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
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--run-dir") == 0 && i + 1 < argc)
            run_dir = argv[++i];
        else if (strcmp(argv[i], "--network") == 0 && i + 1 < argc)
            add_network(argv[++i]);
        else if (strcmp(argv[i], "--container") == 0 && i + 1 < argc)
            add_container(argv[++i]);
        else
            die("bad argument: ", argv[i]);
    }
    log_setup(2, verbose ? LOG_LEVEL_DEBUG : LOG_LEVEL_WARN);
    setvbuf(stdout, NULL, _IOLBF, 0);

    struct diag d = { 0 };
    if (net_validate(&man, &d) < 0) {
        for (size_t i = 0; i < d.count; i++)
            printf("invalid: %s\n", d.msgs[i]);
        return 3;
    }
    struct kerr err = { 0 };
    struct net_ctx *ctx = NULL;
    uint64_t t0 = now_ns();
    if (net_init(&ctx, &man, run_dir, &err) < 0) {
        printf("error: %s\n", err.msg);
        return 1;
    }
    printf("ok init us=%llu\n", (unsigned long long)((now_ns() - t0) / 1000));

    char line[512];
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\n")] = '\0';
        char *arg = strchr(line, ' ');
        if (arg)
            *arg++ = '\0';
        struct container_spec *c = arg ? find(arg) : NULL;
        if (strcmp(line, "quit") == 0) {
            net_shutdown(ctx);
            printf("ok quit\n");
            return 0;
        } else if (strcmp(line, "kill") == 0) {
            _exit(9);
        } else if (strcmp(line, "plan") == 0) {
            net_plan_machine(&man, stdout);
            for (size_t i = 0; i < man.n_containers; i++) {
                printf("container %s\n", man.containers[i].name);
                net_plan(&man, &man.containers[i], stdout);
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
            net_container_release(ctx, c);
            printf("ok down %s\n", c->name);
        } else if (strcmp(line, "hosts") == 0) {
            char *h = net_hosts_file(ctx, &man, c);
            printf("%sok hosts\n", h ? h : "");
            free(h);
        } else {
            printf("error: unknown command %s\n", line);
        }
    }
    net_shutdown(ctx);
    return 0;
}
