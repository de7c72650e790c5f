/* manifest_diff.h — what changes between two validated manifests, and what
 * each change needs (`keel apply`, its --dry-run plan, SIGHUP).  Pure: it
 * compares the two structs and touches nothing.
 *
 * A container of the new manifest is
 *   added       not in the old one: started;
 *   changed     a key that the running process or its set-up was made from
 *               changed (command, layers, mounts, network, ports, caps, ...),
 *               or it joins the network of a container that is restarted:
 *               stopped, then started again from the new spec;
 *   in place    only limits cgroup v2 can change on a live cgroup (memory,
 *               memory_high, memory_swap, cpus, cpu_weight, cpuset, pids,
 *               io_*) and supervision policy keys the supervisor reads as it
 *               goes (restart*, on_crashloop, depends, stop_*, main,
 *               start_timeout, on_unhealthy): it keeps running, same PID;
 *   unchanged   it keeps running, same PID.
 * A container of the old manifest only is removed: stopped.
 * A [network] is
 *   added       new: its bridge is made when its first container starts;
 *   removed     gone (its containers are removed or moved): its bridge goes;
 *   changed     a key the bridge or the containers' eth0 are made from
 *               (subnet, gateway, mtu, isolate, subnet6, gateway6): the bridge
 *               is made again and every container on it restarts ("restart");
 *   in place    only keys of keel's nf_tables rules (host_ports, lan,
 *               link_local): the table is replaced in one transaction.
 * [system] and [interface] keys that keel applies only at boot are "needs a
 * reboot": the apply reports them and never pretends to have applied them.
 *
 * Contract: 0 / -ENOMEM; the diff owns its strings, freed by
 * manifest_diff_free().  Both manifests must outlive the diff.
 */
#ifndef KEEL_MANIFEST_DIFF_H
#define KEEL_MANIFEST_DIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "keel/manifest.h"

enum mdiff_kind { MDIFF_UNCHANGED, MDIFF_INPLACE, MDIFF_CHANGED, MDIFF_ADDED, MDIFF_REMOVED };

struct mdiff_ctr {
    const char *name;          /* points into the manifest it comes from */
    enum mdiff_kind kind;
    int old_index, new_index;  /* -1 when absent from that manifest */
    char keys[512];            /* changed keys, space separated ("" for unchanged, added, removed) */
    char why[256];             /* changed without a key of its own: why it restarts */
};

struct mdiff_net {
    const char *name;          /* points into the manifest it comes from */
    enum mdiff_kind kind;      /* never MDIFF_UNCHANGED: only the networks that change are listed */
    char keys[256];            /* changed keys, space separated (changed, in place) */
};

struct mdiff {
    /* The new manifest's containers in its start order, then the removed
     * ones in the old manifest's reverse start order (the order they stop). */
    struct mdiff_ctr *ctrs;
    size_t n_ctrs;
    struct mdiff_net *nets;    /* the [network]s that change: the new manifest's order, then the removed */
    size_t n_nets;
    char reboot[1024];         /* "[system] modules, [interface eth0] changed, ...": needs a reboot; "" none */
    bool networks_changed;     /* a [network] was added, removed or changed (n_nets > 0) */
    bool truncated;            /* a key list did not fit (the plan says so) */
};

const char *mdiff_kind_name(enum mdiff_kind k);
int manifest_diff(const struct manifest *old, const struct manifest *nm, struct mdiff *out);
void manifest_diff_free(struct mdiff *d);
/* The entry of network NAME, NULL when it does not change. */
const struct mdiff_net *manifest_diff_find_net(const struct mdiff *d, const char *name);
/* How network A's change to B is carried out (MDIFF_UNCHANGED, MDIFF_INPLACE:
 * rules only, MDIFF_CHANGED: made again), with the changed keys in KEYS
 * (space separated; *truncated set when they did not fit).  Pure; net.c asks
 * it too, so the plan and what is done cannot differ. */
enum mdiff_kind manifest_diff_network(const struct network_spec *a, const struct network_spec *b, char *keys,
                                      size_t size, bool *truncated);
/* The readable plan, one line per container that changes and one for the
 * reboot-only changes, "no changes" when there is nothing. */
void manifest_diff_print(const struct mdiff *d, FILE *out);
/* Whether the diff changes anything that apply would act on. */
bool manifest_diff_empty(const struct mdiff *d);

#endif
