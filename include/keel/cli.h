/* cli.h — keel's command line: a table of verbs (run, check, ps, ...), one
 * function per verb.  The CLI may exit; nothing below it does. */
#ifndef KEEL_CLI_H
#define KEEL_CLI_H

int cli_main(int argc, char **argv);

#endif
