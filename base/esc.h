/* esc.h — values from audit events written into other languages: an
 * HTML page, a Markdown table cell, a CSV cell. Every value an event
 * carries may have been chosen by an attacker, so each writer escapes what
 * its reader would act on. Invalid UTF-8 never passes through as is. (For a
 * terminal: base/termesc.h.) */
#ifndef KAUDIT_ESC_H
#define KAUDIT_ESC_H

#include <stddef.h>

#include "base/buf.h"

/* For HTML text and attribute values: & < > " ' as character references;
 * controls and format characters as visible \u{XXXX}; invalid UTF-8 as
 * U+FFFD. */
void	esc_html(struct buf *b, const char *s);

/* For a Markdown (CommonMark, GFM) table cell: ASCII punctuation that
 * Markdown or inline HTML reads (\ ` * _ [ ] ( ) < > # ! | ~ & $ { }) is
 * backslash-escaped; a newline is written as \n text; other controls and
 * format characters as \u{XXXX}; invalid UTF-8 as \xHH. */
void	esc_md(struct buf *b, const char *s);

/* One CSV field (RFC 4180): quoted when it holds a comma, quote, CR or LF,
 * or starts or ends with a space; quotes doubled. Unless numeric is set, a
 * field a spreadsheet would run as a formula (first character = + - @,
 * tab or CR) gets a leading apostrophe. Invalid UTF-8 as U+FFFD. */
void	esc_csv(struct buf *b, const char *s, int numeric);

#endif
