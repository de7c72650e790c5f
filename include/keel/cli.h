/* cli.h — keel's command line: a table of verbs (run, check, ps, ...), one
 * function per verb.  The CLI may exit; nothing below it does. */
#ifndef KEEL_CLI_H
#define KEEL_CLI_H

#include <stdbool.h>

int cli_main(int argc, char **argv);
/* True when `name` is a verb of keel's command line (keel run as PID 1 of a
 * PID namespace must run, not boot). */
bool cli_is_verb(const char *name);

#endif
