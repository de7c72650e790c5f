/* netdrv — drives keel's net module without the rest of keel, for
 * tests/host/test_net.sh.  Run it only inside a throw-away network namespace.
 *
 *   netdrv [--run-dir DIR] [--network NAME,SUBNET/PREFIX[,gw=IP][,mtu=N][,isolate][,hp=PORT[/udp][+PORT...]]
 *                                     [,lan=no][,link_local]]...
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
 * Errors answer "error: MESSAGE".  The options are turned into manifest text
 * and loaded with manifest_load_buffer (so a bridge container without net= is
 * on the manifest's default network keel0); an invalid manifest prints
 * "invalid: netdrv.ini:LINE: message" lines and exits 3.
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
        else if (str_starts(t, "rate="))
            fprintf(ini, "net_rate = %s\n", t + 5);
        else if (str_starts(t, "port="))
            fprintf(ini, "ports = %s\n", t + 5);
        else
            die("bad --container option: ", t);
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
    struct net_ctx *ctx = NULL;
    uint64_t t0 = now_ns();
    if (net_init(&ctx, man, run_dir, &err) < 0) {
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
            manifest_free(man);
            printf("ok quit\n");
            return 0;
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
            net_container_release(ctx, c);
            printf("ok down %s\n", c->name);
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
