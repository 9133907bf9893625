/* cmd_report.c — `kaudit report`: an auditor's report for a period, from
 * the findings and the views of schema/migrations/0010_views.sql.
 *
 *   kaudit report [-c FILE] [--from TIME] [--to TIME] [--cluster NAME]
 *                 --format html|md|csv -o PATH
 *
 * The sections and their SQL are schema/report.c's; this file renders them.
 * HTML is one self-contained file: charts are inline SVG, there is no
 * script, and a Content-Security-Policy forbids every fetch, so that a value
 * an attacker wrote into an event (a user name that is an <img> tag) can
 * neither run nor call home even if an escape were missed. Markdown carries
 * the same tables; CSV writes one file per section into the directory PATH.
 *
 * DESIGN: every section is queried first, then written, so that a database
 * error leaves no half-written report behind: the file is written to
 * PATH.tmp and renamed. */
#include "app/cmd.h"
#include "app/tabout.h"
#include "base/buf.h"
#include "base/esc.h"
#include "base/timefmt.h"
#include "base/version.h"
#include "base/xmalloc.h"
#include "schema/db.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define REPORT_DAY_MS		86400000LL
#define REPORT_DEFAULT_DAYS	30
#define REPORT_MAX_DAYS		400	/* a day per bar up to this; longer: days with findings */

#define REPORT_SYNOPSIS \
    "usage: kaudit report [-c FILE] [--from TIME] [--to TIME] [--cluster NAME]\n" \
    "                     --format html|md|csv -o PATH\n"

static const char report_usage[] =
    REPORT_SYNOPSIS
    "\n"
    "An auditor's report for a period: summary; findings by day, severity and\n"
    "category; rules that fired; RBAC changes; exec sessions; privileged\n"
    "workloads; secret access; anonymous access; fleet patch level and clients\n"
    "outside the support window; deprecated API use; finding status and history\n"
    "(when the database has the finding lifecycle); alert delivery health.\n"
    "\n"
    "  -c, --config FILE   the configuration whose postgres.url is used\n"
    "      --from TIME     start of the period, inclusive (default: 30 days before --to)\n"
    "      --to TIME       end of the period, exclusive (default: now)\n"
    "                      TIME is RFC 3339 (2026-11-01T00:00:00Z), a date\n"
    "                      (2026-11-01, midnight UTC) or a duration before now (7d, 24h)\n"
    "      --cluster NAME  only this cluster (default: every cluster)\n"
    "  -f, --format FMT    html (one self-contained file, inline SVG charts, no\n"
    "                      script, nothing fetched), md (Markdown tables) or csv\n"
    "                      (PATH is a directory; one file per section)\n"
    "  -o, --output PATH   where to write the report\n"
    "\n"
    "Exits 0 when written, 1 when the database cannot be used or a file cannot\n"
    "be written, 2 on a usage error.\n";

struct report {
	const struct db_report_section	*sec;
	size_t				 nsec;
	struct db_table			*tab;	/* per section */
	char				**note;	/* per section: why it is left out, or NULL */
	int64_t				 from_ms, to_ms;
	char				 from[TIME_TEXT_MAX], to[TIME_TEXT_MAX];
	const char			*cluster;
};

/* TIME of --from/--to: RFC 3339, a date, or a duration before now_ms. */
static int
report_time(const char *s, int64_t now_ms, int64_t *ms)
{
	char buf[40];
	int64_t d;

	if (time_parse_ms(s, strlen(s), ms) == 0)
		return 0;
	if (strlen(s) == 10 && snprintf(buf, sizeof(buf), "%sT00:00:00Z", s) > 0 &&
	    time_parse_ms(buf, strlen(buf), ms) == 0)
		return 0;
	if (duration_parse(s, &d) == 0) {
		*ms = now_ms - d;
		return 0;
	}
	return -1;
}

static int
report_query(struct db *db, struct report *r)
{
	const char *vals[3] = { r->from, r->to, r->cluster };
	char err[1024];
	int have;

	r->tab = xcalloc(r->nsec, sizeof(*r->tab));
	r->note = xcalloc(r->nsec, sizeof(*r->note));
	for (size_t i = 0; i < r->nsec; i++) {
		if (r->sec[i].needs != NULL) {
			if ((have = db_relation_exists(db, r->sec[i].needs, err, sizeof(err))) == -1)
				goto fail;
			if (!have) {
				r->note[i] = xasprintf("Not available: this database has no %s.",
				    r->sec[i].needs);
				continue;
			}
		}
		if (db_query_run(db, r->sec[i].sql, vals, 3, &r->tab[i], err, sizeof(err)) == 0)
			continue;
		if (r->sec[i].needs == NULL)
			goto fail;
		/* Another version's tables may not have the columns expected. */
		r->note[i] = xasprintf("Not available: %s", err);
		fprintf(stderr, "kaudit report: section %s left out: %s\n", r->sec[i].id, err);
	}
	return 0;
fail:
	fprintf(stderr, "kaudit report: %s\n", err);
	return -1;
}

static void
report_free(struct report *r)
{
	for (size_t i = 0; r->tab != NULL && i < r->nsec; i++) {
		db_table_free(&r->tab[i]);
		free(r->note[i]);
	}
	free(r->tab);
	free(r->note);
}

/* ---- HTML ---------------------------------------------------------------- */

static const char *const severities[] = { "critical", "high", "medium", "low", "info" };
static const char *const sev_colour[] = { "#7b1fa2", "#c62828", "#ef6c00", "#f9a825", "#78909c" };

static int
report_sev(const char *s)
{
	for (int i = 0; i < 5; i++)
		if (s != NULL && strcmp(s, severities[i]) == 0)
			return i;
	return 4;
}

static const char report_css[] =
    "body{font:14px/1.45 system-ui,sans-serif;color:#1b1b1b;margin:0 auto;max-width:1100px;padding:0 16px}"
    "a{color:#0b4f9c}a:focus,main:focus{outline:3px solid #f9a825;outline-offset:2px}"
    ".skip{position:absolute;left:-9999px}.skip:focus{left:8px;top:8px;background:#fff;padding:4px}"
    "table{border-collapse:collapse;margin:8px 0 16px;font-size:13px}"
    "caption{text-align:left;font-weight:600;padding:4px 0}"
    "th,td{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top;"
    "overflow-wrap:anywhere;max-width:420px}"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}thead th{background:#eef2f6}"
    ".note{color:#555;font-style:italic}nav ul{columns:2;padding-left:20px}"
    "svg{max-width:100%;height:auto}.legend span{display:inline-block;margin-right:12px}"
    ".legend i{display:inline-block;width:10px;height:10px;margin-right:4px}"
    "@media print{.skip,nav{display:none}body{max-width:none;font-size:11px}"
    "section{break-inside:avoid-page}*{-webkit-print-color-adjust:exact;print-color-adjust:exact}"
    "a{color:inherit;text-decoration:none}}";

static void
report_html_legend(struct buf *b)
{
	buf_puts(b, "<p class=\"legend\">");
	for (int i = 0; i < 5; i++)
		buf_printf(b, "<span><i style=\"background:%s\"></i>%s</span>", sev_colour[i],
		    severities[i]);
	buf_puts(b, "</p>\n");
}

/* The day index of "YYYY-MM-DD" from the first day of the chart; -1 when
 * it is not a date. */
static int64_t
report_day(const char *day)
{
	char buf[40];
	int64_t ms;

	if (day == NULL || strlen(day) != 10)
		return -1;
	snprintf(buf, sizeof(buf), "%sT00:00:00Z", day);
	return time_parse_ms(buf, strlen(buf), &ms) == 0 ? ms / REPORT_DAY_MS : -1;
}

/* Stacked bars: findings per day (rows day, severity, findings). */
static void
report_chart_days(struct buf *b, const struct report *r, const struct db_table *t)
{
	int64_t first = r->from_ms / REPORT_DAY_MS, last = (r->to_ms - 1) / REPORT_DAY_MS;
	int64_t ndays = last - first + 1, *tot, d, max = 0;
	int64_t (*per)[5];
	const double w = 760, h = 220, left = 48, bottom = 24, top = 8;
	double bw, y;
	char label[TIME_TEXT_MAX];

	if (t->nrows == 0) {
		buf_puts(b, "<p class=\"note\">No findings in this period.</p>\n");
		return;
	}
	if (ndays > REPORT_MAX_DAYS || ndays < 1) {
		first = report_day(t->cells[0]);
		ndays = report_day(t->cells[(t->nrows - 1) * t->ncols]) - first + 1;
	}
	per = xcalloc((size_t)ndays, sizeof(*per));
	tot = xcalloc((size_t)ndays, sizeof(*tot));
	for (size_t i = 0; i < t->nrows; i++) {
		d = report_day(t->cells[i * t->ncols]) - first;
		if (d < 0 || d >= ndays)
			continue;
		per[d][report_sev(t->cells[i * t->ncols + 1])] += strtoll(t->cells[i * t->ncols + 2], NULL, 10);
	}
	for (d = 0; d < ndays; d++) {
		for (int s = 0; s < 5; s++)
			tot[d] += per[d][s];
		if (tot[d] > max)
			max = tot[d];
	}
	bw = (w - left - 8) / (double)ndays;
	buf_printf(b, "<figure><svg id=\"chart-by-day\" role=\"img\" aria-labelledby=\"chart-by-day-t\""
	    " viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" height=\"%.0f\" xmlns=\"http://www.w3.org/2000/svg\">"
	    "<title id=\"chart-by-day-t\">Findings per day, stacked by severity; highest day %lld</title>\n",
	    w, h, w, h, (long long)max);
	buf_printf(b, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"#999\"/>"
	    "<text x=\"%.0f\" y=\"%.0f\" font-size=\"11\" text-anchor=\"end\">%lld</text>"
	    "<text x=\"%.0f\" y=\"%.0f\" font-size=\"11\" text-anchor=\"end\">0</text>\n",
	    left, h - bottom, w - 8, h - bottom, left - 4, top + 10, (long long)max,
	    left - 4, h - bottom);
	for (d = 0; d < ndays; d++) {
		y = h - bottom;
		time_format_ms((first + d) * REPORT_DAY_MS, label);
		label[10] = '\0';
		for (int s = 4; s >= 0; s--) {
			double bh;

			if (per[d][s] == 0)
				continue;
			bh = (h - bottom - top) * (double)per[d][s] / (double)max;
			y -= bh;
			buf_printf(b, "<rect class=\"bar\" data-day=\"%s\" data-severity=\"%s\" data-n=\"%lld\""
			    " x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\">"
			    "<title>%s %s: %lld</title></rect>\n", label, severities[s],
			    (long long)per[d][s], left + d * bw + bw * 0.1, y, bw * 0.8 > 1 ? bw * 0.8 : 1,
			    bh, sev_colour[s], label, severities[s], (long long)per[d][s]);
		}
		if (d == 0 || d == ndays - 1 || (ndays > 2 && d == ndays / 2))
			buf_printf(b, "<text x=\"%.2f\" y=\"%.0f\" font-size=\"11\" text-anchor=\"%s\">%s</text>\n",
			    d == 0 ? left : d == ndays - 1 ? w - 8 : left + d * bw + bw / 2, h - 8,
			    d == 0 ? "start" : d == ndays - 1 ? "end" : "middle", label);
	}
	buf_puts(b, "</svg><figcaption>Findings per day (UTC) of event time.</figcaption></figure>\n");
	report_html_legend(b);
	free(per);
	free(tot);
}

/* Horizontal stacked bars: findings per category (rows category,
 * critical..info, total). */
static void
report_chart_categories(struct buf *b, const struct db_table *t)
{
	const double w = 760, row = 22, left = 120;
	double x, h = row * (double)t->nrows + 8, bw;
	long long max = 0, v;
	struct buf name;

	if (t->nrows == 0)
		return;
	for (size_t i = 0; i < t->nrows; i++)
		if ((v = strtoll(t->cells[i * t->ncols + 6], NULL, 10)) > max)
			max = v;
	buf_init(&name);
	buf_printf(b, "<figure><svg id=\"chart-by-category\" role=\"img\" aria-labelledby=\"chart-by-category-t\""
	    " viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" height=\"%.0f\" xmlns=\"http://www.w3.org/2000/svg\">"
	    "<title id=\"chart-by-category-t\">Findings per category, stacked by severity</title>\n",
	    w, h, w, h);
	for (size_t i = 0; i < t->nrows; i++) {
		buf_reset(&name);
		esc_html(&name, t->cells[i * t->ncols] != NULL ? t->cells[i * t->ncols] : "");
		buf_printf(b, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"12\" text-anchor=\"end\">%s</text>\n",
		    left - 6, row * (double)i + 16, buf_cstr(&name));
		x = left;
		for (int s = 0; s < 5; s++) {
			if ((v = strtoll(t->cells[i * t->ncols + 1 + s], NULL, 10)) == 0)
				continue;
			bw = (w - left - 60) * (double)v / (double)max;
			buf_printf(b, "<rect class=\"bar\" data-category=\"%s\" data-severity=\"%s\" data-n=\"%lld\""
			    " x=\"%.2f\" y=\"%.0f\" width=\"%.2f\" height=\"16\" fill=\"%s\"><title>%s %s: %lld</title></rect>\n",
			    buf_cstr(&name), severities[s], v, x, row * (double)i + 4, bw, sev_colour[s],
			    buf_cstr(&name), severities[s], v);
			x += bw;
		}
		buf_printf(b, "<text x=\"%.2f\" y=\"%.0f\" font-size=\"11\">%s</text>\n", x + 4,
		    row * (double)i + 16, t->cells[i * t->ncols + 6]);
	}
	buf_puts(b, "</svg><figcaption>Findings per category.</figcaption></figure>\n");
	buf_free(&name);
}

static void
report_html_summary(struct buf *b, const struct db_table *t)
{
	buf_puts(b, "<table id=\"summary\">\n<caption>Summary of the period</caption>\n"
	    "<thead><tr><th scope=\"col\">Measure</th><th scope=\"col\">Value</th></tr></thead>\n<tbody>\n");
	for (size_t i = 0; i < t->nrows; i++) {
		const char *v = t->cells[i * 3 + 2];

		buf_puts(b, "<tr><th scope=\"row\">");
		esc_html(b, t->cells[i * 3 + 1]);
		buf_puts(b, "</th><td class=\"n\" data-key=\"");
		esc_html(b, t->cells[i * 3]);
		buf_puts(b, "\">");
		esc_html(b, v != NULL ? v : "0");
		buf_puts(b, "</td></tr>\n");
	}
	buf_puts(b, "</tbody>\n</table>\n");
}

static void
report_html(struct buf *b, const struct report *r)
{
	struct buf cl;

	buf_init(&cl);
	esc_html(&cl, r->cluster != NULL ? r->cluster : "every cluster");
	buf_printf(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	    "style-src 'unsafe-inline'; img-src data:\">\n"
	    "<meta name=\"referrer\" content=\"no-referrer\">\n"
	    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	    "<title>kaudit report %s to %s</title>\n<style>%s</style>\n</head>\n<body>\n"
	    "<a class=\"skip\" href=\"#main\">Skip to the report</a>\n"
	    "<header><h1>Kubernetes audit report</h1>\n"
	    "<p>Period <time>%s</time> to <time>%s</time> (end excluded), %s. Made by kaudit %s.</p></header>\n"
	    "<nav aria-label=\"Sections\"><h2>Contents</h2><ul>\n",
	    r->from, r->to, report_css, r->from, r->to, buf_cstr(&cl), KAUDIT_VERSION);
	for (size_t i = 0; i < r->nsec; i++)
		buf_printf(b, "<li><a href=\"#%s\">%s</a></li>\n", r->sec[i].id, r->sec[i].title);
	buf_puts(b, "</ul></nav>\n<main id=\"main\" tabindex=\"-1\">\n");
	for (size_t i = 0; i < r->nsec; i++) {
		const struct db_report_section *s = &r->sec[i];

		buf_printf(b, "<section id=\"%s\" aria-labelledby=\"h-%s\">\n<h2 id=\"h-%s\">%s</h2>\n"
		    "<p>%s</p>\n", s->id, s->id, s->id, s->title, s->intro);
		if (r->note[i] != NULL) {
			buf_puts(b, "<p class=\"note\">");
			esc_html(b, r->note[i]);
			buf_puts(b, "</p>\n</section>\n");
			continue;
		}
		if (strcmp(s->id, "summary") == 0) {
			report_html_summary(b, &r->tab[i]);
		} else {
			if (strcmp(s->id, "by-day") == 0)
				report_chart_days(b, r, &r->tab[i]);
			else if (strcmp(s->id, "by-category") == 0)
				report_chart_categories(b, &r->tab[i]);
			tabout_html(b, &r->tab[i], s->title);
		}
		buf_puts(b, "</section>\n");
	}
	buf_puts(b, "</main>\n</body>\n</html>\n");
	buf_free(&cl);
}

/* ---- Markdown ------------------------------------------------------------ */

static void
report_md(struct buf *b, const struct report *r)
{
	buf_printf(b, "# Kubernetes audit report\n\nPeriod %s to %s (end excluded), ", r->from, r->to);
	esc_md(b, r->cluster != NULL ? r->cluster : "every cluster");
	buf_printf(b, ". Made by kaudit %s.\n", KAUDIT_VERSION);
	for (size_t i = 0; i < r->nsec; i++) {
		buf_printf(b, "\n## %s\n\n%s\n\n", r->sec[i].title, r->sec[i].intro);
		if (r->note[i] != NULL) {
			esc_md(b, r->note[i]);
			buf_putc(b, '\n');
		} else {
			tabout_md(b, &r->tab[i]);
		}
	}
}

/* ---- writing ------------------------------------------------------------- */

static int
report_write_file(const char *path, const struct buf *b)
{
	char *tmp = xasprintf("%s.tmp", path);
	FILE *fp;
	int rc = -1;

	if ((fp = fopen(tmp, "w")) == NULL) {
		fprintf(stderr, "kaudit report: %s: %s\n", tmp, strerror(errno));
		goto out;
	}
	if (fwrite(b->data != NULL ? b->data : "", 1, b->len, fp) != b->len || fclose(fp) != 0) {
		fprintf(stderr, "kaudit report: %s: %s\n", tmp, strerror(errno));
		unlink(tmp);
		goto out;
	}
	if (rename(tmp, path) != 0) {
		fprintf(stderr, "kaudit report: %s: %s\n", path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	rc = 0;
out:
	free(tmp);
	return rc;
}

static int
report_csv(const char *dir, const struct report *r)
{
	struct buf b;
	char *path;
	int rc = 0;

	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "kaudit report: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	buf_init(&b);
	for (size_t i = 0; i < r->nsec && rc == 0; i++) {
		if (r->note[i] != NULL)
			continue;
		buf_reset(&b);
		tabout_csv(&b, &r->tab[i]);
		path = xasprintf("%s/%02zu-%s.csv", dir, i + 1, r->sec[i].id);
		rc = report_write_file(path, &b);
		free(path);
	}
	buf_free(&b);
	return rc;
}

static int
report_args(int argc, char **argv, struct report *r, const char **config,
    const char **format, const char **out)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "from", required_argument, NULL, 'F' },
		{ "to", required_argument, NULL, 'T' },
		{ "cluster", required_argument, NULL, 'C' },
		{ "format", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *from = NULL, *to = NULL;
	int64_t now_ms = (int64_t)time(NULL) * 1000;
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:f:o:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': *config = optarg; break;
		case 'F': from = optarg; break;
		case 'T': to = optarg; break;
		case 'C': r->cluster = optarg; break;
		case 'f': *format = optarg; break;
		case 'o': *out = optarg; break;
		case 'h':
			fputs(report_usage, stdout);
			return 0;
		default:
			fputs(REPORT_SYNOPSIS, stderr);
			return 2;
		}
	}
	if (optind != argc || *format == NULL || *out == NULL) {
		fprintf(stderr, "kaudit report: --format and -o are required\n%s", REPORT_SYNOPSIS);
		return 2;
	}
	if (strcmp(*format, "html") != 0 && strcmp(*format, "md") != 0 &&
	    strcmp(*format, "csv") != 0) {
		fprintf(stderr, "kaudit report: --format %s: expected html, md or csv\n", *format);
		return 2;
	}
	r->to_ms = now_ms;
	if (to != NULL && report_time(to, now_ms, &r->to_ms) == -1) {
		fprintf(stderr, "kaudit report: --to %s: expected RFC 3339, a date or a duration\n", to);
		return 2;
	}
	r->from_ms = r->to_ms - REPORT_DEFAULT_DAYS * REPORT_DAY_MS;
	if (from != NULL && report_time(from, now_ms, &r->from_ms) == -1) {
		fprintf(stderr, "kaudit report: --from %s: expected RFC 3339, a date or a duration\n", from);
		return 2;
	}
	if (r->from_ms >= r->to_ms) {
		fprintf(stderr, "kaudit report: --from must be before --to\n");
		return 2;
	}
	time_format_ms(r->from_ms, r->from);
	time_format_ms(r->to_ms, r->to);
	return -1;
}

int
cmd_report(int argc, char **argv)
{
	struct report r;
	const char *config = NULL, *format = NULL, *out = NULL;
	struct db *db = NULL;
	struct buf b;
	int rc;

	memset(&r, 0, sizeof(r));
	buf_init(&b);
	if ((rc = report_args(argc, argv, &r, &config, &format, &out)) != -1)
		goto out;
	rc = 1;
	r.sec = db_report_sections(&r.nsec);
	if ((db = cmd_db_open(config, "report")) == NULL || report_query(db, &r) == -1)
		goto out;
	if (strcmp(format, "csv") == 0) {
		rc = report_csv(out, &r) == 0 ? 0 : 1;
		goto out;
	}
	if (strcmp(format, "html") == 0)
		report_html(&b, &r);
	else
		report_md(&b, &r);
	rc = report_write_file(out, &b) == 0 ? 0 : 1;
out:
	if (db != NULL)
		db_close(db);
	report_free(&r);
	buf_free(&b);
	return rc;
}
