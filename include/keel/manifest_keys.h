/* manifest_keys.h — the manifest module's internal table of keys, used by
 * manifest.c only; everyone else uses manifest.h.
 *
 * manifest_keys.c holds every key of the manifest: its section, name, type,
 * default and doc line (the one table that the parser, `keel check --keys` and
 * the documentation test all read), and how a value is checked and stored.
 * manifest.c reads the file, tracks sections and duplicates, and hands each
 * KEY = VALUE here.  Nothing here allocates except into the section's struct,
 * which the manifest owns (manifest_free() releases it).
 */
#ifndef KEEL_MANIFEST_KEYS_H
#define KEEL_MANIFEST_KEYS_H

#include "keel/manifest.h"

#include <stdbool.h>
#include <stddef.h>

#define MANIFEST_MAX_CONTAINERS 256
#define MANIFEST_DEFAULT_NETWORK "keel0"
#define MANIFEST_DEFAULT_SUBNET "172.30.0.0/24"   /* MANIFEST_DEFAULT_NETWORK's without a [network] section */

/* SEC_NONE: before the first header; SEC_BAD: after a rejected header. */
enum section_kind { SEC_NONE, SEC_SYSTEM, SEC_CONTAINER, SEC_NETWORK, SEC_INTERFACE, SEC_VOLUME, SEC_BAD };

struct manifest_key;   /* one row of the table; static, never freed */

/* The key NAME of SECTION, or NULL.  *index is its position in the table
 * (below MANIFEST_KEYS_MAX). */
const struct manifest_key *manifest_key_find(enum section_kind section, const char *name, size_t *index);
/* Whether the key may be given more than once in a section. */
bool manifest_key_repeatable(const struct manifest_key *k);
/* Checks VALUE and stores it into OBJ, the struct of the key's section
 * (system_spec, container_spec, network_spec or interface_spec); LINE is
 * recorded where the struct keeps lines for later messages.  Returns 0;
 * -EINVAL with the reason in WHY (PARSE_WHY_MAX bytes); or -ENOMEM. */
int manifest_key_apply(const struct manifest_key *k, void *obj, int line, const char *value, char *why);

/* Stores the defaults of SECTION's keys that the table applies (keys whose
 * default is a value, such as a container's `pids`) into OBJ, the section's
 * struct, through the keys' setters with line 0: with REPEATABLE false those
 * of single keys, stored when a section begins (a value given then replaces
 * the default, as it replaces an earlier value); with REPEATABLE true those
 * of repeatable keys (`control`), stored when the section is done and only
 * when the key is absent (KEY_LINE, the section's key_line array, is 0 for
 * it): a given value must not add to them.  Returns 0, -ENOMEM, or the key's
 * error with *KEY and WHY (a default that does not parse is a bug of the
 * table: every manifest of the unit tests applies them). */
int manifest_keys_apply_defaults(enum section_kind section, bool repeatable, void *obj, const int *key_line,
                                 const char **key, char *why);

/* "system", "container", ...; "?" for SEC_NONE and SEC_BAD. */
const char *manifest_section_name(enum section_kind k);
/* A container, network or module name: a letter or digit, then letters,
 * digits, '_', '.', '-'; at most MAX bytes. */
bool manifest_valid_name(const char *s, size_t max);

#endif
