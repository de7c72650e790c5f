/* net.h — container networking over netlink: Docker's four modes.
 *
 *   none       own network namespace, only lo (up)
 *   host       keel's network namespace
 *   bridge     own namespace; veth pair, host end on the bridge of its
 *              [network], peer created directly inside the namespace as eth0;
 *              address, default route via the gateway; published ports as DNAT
 *              rules in keel's own nf_tables table; optional egress rate (tbf)
 *   container  joins the pinned namespace of another container
 *
 * Network namespaces are created by keel (not by clone) and pinned under
 * /run/keel/netns/NAME, so a restarted container rejoins the same namespace
 * with the same address and its container:NAME dependants keep their network.
 *
 * Every netlink message is built by keel into an nlbuf batch: links,
 * addresses, routes and qdiscs by net_msg, NAT and the forward filter by nft
 * (no libnl, no libnftnl).
 * No `ip`, `iptables` or `nft` binary is ever run.
 *
 * A bridge-mode container is on the network its c->bridge names, which must be
 * one of m->networks: net.c has no network of its own.  The default network
 * (keel0, 172.30.0.0/24) is the manifest's: manifest_load adds it and fills in
 * c->bridge.  A container naming a network the manifest lacks is an error
 * (manifest_validate_networks, net_init), never a fallback.
 *
 * Contract: 0 / negative errno with `struct kerr` filled (err.h).
 */
#ifndef KEEL_NET_H
#define KEEL_NET_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "keel/err.h"
#include "keel/manifest.h"

struct net_ctx;

/* Opens netlink sockets, removes what a crashed earlier keel left (its bridges,
 * veths, namespace pins, nf_tables table; a saved ip_forward value), and —
 * when a bridge-mode container exists — creates the bridges with their gateway
 * addresses (IPv6 off on them), turns on IPv4 forwarding and installs keel's
 * nf_tables table (masquerade, default-deny forward, the input policy, the
 * loopback guard), and deletes conntrack entries of keel's subnets a crashed
 * keel left.  Every namespace keel makes has IPv6 off.  Addresses of all
 * bridge containers are assigned here.  `run_dir` is /run/keel (pins go to
 * RUN_DIR/netns/NAME).  Fails with EBUSY, touching nothing, when another live
 * keel owns the table, and with EINVAL, touching nothing, when a bridge
 * container names a network the manifest lacks.  Call it once, in keel's own network namespace, before
 * any container starts; `m` must outlive the context. */
int net_init(struct net_ctx **out, const struct manifest *m, const char *run_dir, struct kerr *err);
/* Removes everything keel made in the host's network configuration: the table,
 * the pins, the bridges; restores ip_forward.  First waits for the releases
 * still under way (net_container_release's children: each at most 5 s, then
 * killed), reaping them itself.  Frees ctx; NULL is allowed.
 * It reads nothing of the manifest (which may be freed already: after an
 * apply the supervisor owns it). */
void net_shutdown(struct net_ctx *ctx);

/* Returns a fd (O_CLOEXEC, caller closes) of the network namespace the container
 * must join with setns(fd, CLONE_NEWNET) in its child before exec, creating,
 * pinning and configuring it on first use (lo up; bridge mode: veth, eth0,
 * address, route, rate limit, DNAT rules).  A restart returns the same pinned
 * namespace.  container:NAME returns NAME's (creating it if NAME has not
 * started yet).  *fd = -1 for network = host (join nothing).  Call it in the
 * parent before clone (not with CLONE_NEWNET: the child joins this fd). */
int net_container_netns(struct net_ctx *ctx, const struct container_spec *c, int *fd, struct kerr *err);
/* The container stopped for good (not between restarts): remove its published
 * ports, unpin its namespace (the kernel destroys it, and the veth pair with
 * it, once its last process is gone), delete the conntrack entries naming its
 * address (so the next owner of the address does not inherit its flows) and
 * free the address.  Nothing for host
 * and container:NAME modes (the joined namespace belongs to NAME).
 *
 * The conntrack entries are deleted by a child of keel (the table's dump
 * walks every bucket: ~10 ms of CPU kept off the caller's loop), or in
 * place with `in_place` (keel is about to exit: its loop has nothing left
 * to serve, and a walk running beside the teardown that follows holds up
 * the kernel's grace periods and its namespace cleanup).  Returns the
 * child's pid, or 0 when there was nothing to delete or it was done in
 * place.
 * The caller owns the child: it reaps it and then calls net_release_reaped,
 * or calls net_release_wait.  Until then the address is being released: a
 * start takes another free one, or, when it must have that one (a fixed
 * `ip`, the last free address), deletes its entries itself first.  The
 * child runs at nice 19, ends within a bound (30 s) and with keel; a child
 * that failed or was killed is logged, and the address is free. */
pid_t net_container_release(struct net_ctx *ctx, const struct container_spec *c, bool in_place);
/* A child of net_container_release / net_replace_end / net_replace_abort
 * was reaped by the caller (`status` as waitpid gives it): logs what it did
 * and frees its address.  Any other pid: nothing.  ctx may be NULL. */
void net_release_reaped(struct net_ctx *ctx, pid_t pid, int status);
/* Such a child reaped here instead, waited for at most its bound (killed
 * past it), for a caller that cannot watch it.  net_shutdown does this for
 * every release still under way. */
void net_release_wait(struct net_ctx *ctx, pid_t pid);
/* keel apply: `nm` replaces the manifest of ctx.  old_of_new[i] is, for
 * nm's container i that keeps running, its index in the old manifest (its
 * namespace, address and ports stay as they are), else -1 (new or restarted:
 * its address is chosen now, so that /etc/hosts can name it, and its
 * namespace is made at its start).  Every other container of the old
 * manifest must have been released (net_container_release).  Networks may
 * change (manifest_diff_network): a bridge whose network is unchanged or
 * changes only its rules carries over; one whose network is gone or made
 * again is deleted by net_apply_rules; a new one is made when its first
 * container starts, and only once keel's table has its rules.  With `check`,
 * nothing changes: fails with EEXIST when a new network's name is a link that
 * is not keel's, EBUSY when a kept container is on a network made again,
 * EADDRINUSE when a fixed `ip` is held by a container that keeps running.
 * Without, fails only with ENOMEM, touching nothing; nm must outlive ctx. */
int net_apply(struct net_ctx *ctx, const struct manifest *nm, const int *old_of_new, bool check, struct kerr *err);
/* After net_apply, before any container of nm starts: deletes the bridges of
 * networks gone or made again and, when the networks changed, replaces
 * keel's table in one transaction (published ports included), opening it
 * and turning forwarding on for a keel that started without a bridge
 * network.  On failure the old table stands, and the containers of new
 * bridges cannot start (their start says why). */
int net_apply_rules(struct net_ctx *ctx, struct kerr *err);
/* update = start-first (keel apply, docs/operations.md): two instances of
 * container `c` for a while.  The caller is the supervisor, between an
 * apply's net_apply (which kept the old instance's namespace for c, as for
 * an unchanged container) and the end of the replacement.
 *
 * net_replace_begin: the running instance steps aside (its namespace,
 * address and published ports stay as they are: `old` is the spec they come
 * from, which must live until the replacement ends); the next
 * net_container_netns(c) makes a new namespace with an address of its own,
 * pinned as RUN_DIR/netns/NAME~next when the old one is NAME's, or the other
 * way round.  EINVAL when c is not bridge mode or a replacement runs.
 * net_replace_commit: the published ports move to the new address in one
 * nf_tables transaction; connections already made stay with the old one
 * (conntrack).  net_replace_end: the old instance is down for good: its
 * namespace is unpinned, its flows forgotten, its address freed.
 * net_replace_abort: instead, the new instance is down for good: its
 * namespace, flows and address go, and c's are the old instance's again.
 * Both return the pid of the child forgetting the flows, or 0, as
 * net_container_release does.
 * net_replace_old_ip: the old instance's address while it runs aside. */
int net_replace_begin(struct net_ctx *ctx, const struct container_spec *c, const struct container_spec *old,
                      struct kerr *err);
int net_replace_commit(struct net_ctx *ctx, const struct container_spec *c, struct kerr *err);
pid_t net_replace_end(struct net_ctx *ctx, const struct container_spec *c);
pid_t net_replace_abort(struct net_ctx *ctx, const struct container_spec *c);
struct in_addr net_replace_old_ip(const struct net_ctx *ctx, const struct container_spec *c);
/* The IPv4 address a container has (or will get; container:NAME: NAME's);
 * 0 when none.  ctx must not be NULL. */
struct in_addr net_container_ip(const struct net_ctx *ctx, const struct container_spec *c);

/* Content for the container's generated /etc/hosts (itself and the containers
 * sharing its networks) — heap string the caller frees, NULL on ENOMEM.
 * ctx may be NULL (addresses are then computed from the manifest alone). */
char *net_hosts_file(const struct net_ctx *ctx, const struct manifest *m, const struct container_spec *c);

/* Content for the container's generated /etc/resolv.conf: "nameserver X" for
 * each [system] dns.  Returns 0 with *out a heap string (caller frees); 1 with
 * *out NULL when the manifest names no dns (use the host's /etc/resolv.conf);
 * -ENOMEM. */
int net_resolv_conf(const struct manifest *m, char **out);

/* Boot mode: bring up lo and configure an [interface] uplink. */
int net_loopback_up(struct kerr *err);
int net_interface_configure(const struct interface_spec *ifs, struct kerr *err);

/* keel check --plan: links, addresses, routes and NAT rules for a container
 * (indented lines under the container's heading), and the machine-wide part
 * (bridges, forwarding, the nf_tables table in nft syntax) once per plan. */
void net_plan(const struct manifest *m, const struct container_spec *c, FILE *out);
void net_plan_machine(const struct manifest *m, FILE *out);

#endif
