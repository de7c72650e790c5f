/* plan.h — what `keel check` prints: the normalized manifest, and with
 * --plan the resolved plan of every container in start order (namespaces,
 * mounts, user, capabilities, command, cgroup files, links and NAT rules). */
#ifndef KEEL_PLAN_H
#define KEEL_PLAN_H

#include <stdio.h>

#include "keel/manifest.h"

void plan_print_summary(const struct manifest *m, FILE *out);
void plan_print(const struct manifest *m, FILE *out);

#endif
