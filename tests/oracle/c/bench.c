/*
 * bench.c - time the unmodified illumos vm_pvn.c on the C model: the C
 * baselines of bench/run.py (read_kluster_python_over_c and
 * fsync_python_over_c).
 *
 * Built by `build.sh OUTDIR bench' into OUTDIR/pvn_bench with -O2,
 * -DORACLE_BENCH (no tracing: the trace calls of model.c compile to nothing)
 * and a large page hash; linked with model.c and vm_pvn.c, not driver.c.
 * The state is built directly through the model's set-up functions,
 * untraced.  A production kernel (no -DDEBUG); the ASSERTs of oracle.h stay
 * active, as in the oracle.
 *
 * The scenarios are the ones bench/run.py times on pvnsim:
 *
 *   read_kluster: one vnode without pages, 4096 free pages, all thresholds 0;
 *     `pvn_read_kluster(vp, 0x8000, segmap, 0x8000, &o, &l, 0, 0x10000, 0)'
 *     (a 16-page kluster: a segment that always allows klustering), then
 *     `pvn_read_done(plist, B_ERROR)', which destroys the pages, so that the
 *     next call creates them anew.  CALLS such pairs per timed run.
 *
 *   fsync: one vnode with PAGES resident, dirty (P_MOD|P_REF), unmapped,
 *     unlocked pages, v_pages in descending offset order (pvnsim's make_page
 *     puts each new page at the head), 16 more pages free, all thresholds and
 *     pages_before_pager 0; one timed `pvn_vplist_dirty(vp, 0, putapage,
 *     flags, kcred)' per run, for flags 0 and B_ASYNC|B_FREE, with a
 *     ufs-like putapage: pvn_write_kluster over the 8 KiB block holding the
 *     page, then pvn_write_done(list, B_WRITE | flags); no disk.  Every
 *     written page ends on the cache list (pvn_write_done frees an unmapped
 *     page even without B_FREE).  The state is rebuilt (untimed) before
 *     every run.
 *
 * Each figure is the median of RUNS timed runs (CLOCK_MONOTONIC) after one
 * warm-up run.  Output: one JSON object per line, e.g.
 *
 *   {"scenario": "read_kluster", "flags": "B_ERROR", "calls": 3000,
 *    "pages": 48000, "runs": 7, "median_s": 0.0152, "pages_per_s": 3.1e6,
 *    "klusters_per_s": 1.9e5}
 *
 * Usage: pvn_bench [CALLS [PAGES [RUNS]]] (defaults 3000 100000 7).
 * Exit status: 0, 2 for bad arguments, 3 when a run did not do what the
 * scenario expects (a model panic also exits with 3).
 */
#include <time.h>

#include "oracle.h"

#define	KLUSTER_FREE	4096
#define	KLUSTER_PAGES	16
#define	FSYNC_SPARE	16
#define	BLKSZ		8192

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec * 1e-9);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return ((x > y) - (x < y));
}

static double
median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof (*v), cmp_double);
	return (n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2);
}

static void __attribute__((noreturn))
fail(const char *what)
{
	fprintf(stderr, "pvn_bench: %s\n", what);
	exit(3);
}

/* One vnode, "f", no pages, the way the driver makes a scenario vnode. */
static vnode_t *
make_vnode(void)
{
	vnode_t *vp = &oracle_vnodes[0];

	memset(vp, 0, sizeof (*vp));
	snprintf(vp->m_name, sizeof (vp->m_name), "f");
	vp->m_index = 0;
	vp->v_type = VREG;
	vp->v_count = 1;
	vp->v_flag = 0;
	vp->v_lock.m_kind = ORACLE_MUTEX_V_LOCK;
	vp->v_lock.m_vp = vp;
	vp->m_vphm.m_kind = ORACLE_MUTEX_VPHM;
	vp->m_vphm.m_vp = vp;
	vp->v_cv.c_vp = vp;
	oracle_nvnodes = 1;
	return (vp);
}

/*
 * A fresh memory: `resident' dirty pages of the vnode (v_pages from the
 * highest offset down) and `nfree' pages on the free list.
 */
static vnode_t *
build_memory(int resident, int nfree)
{
	vnode_t *vp;
	int i;

	oracle_reset_memory();
	vp = make_vnode();
	oracle_alloc_phys(resident + nfree);
	for (i = 0; i < resident; i++) {
		page_t *pp = &oracle_phys[i];

		oracle_hashin_tail(pp, vp,
		    (u_offset_t)(resident - 1 - i) * (u_offset_t)PAGESIZE);
		pp->p_nrm = P_MOD | P_REF;
	}
	for (i = 0; i < nfree; i++)
		oracle_freelist_add(&oracle_phys[resident + i]);
	freemem = (pgcnt_t)nfree;
	return (vp);
}

/* ---------------------------------------------------------------- */

static double
kluster_run(vnode_t *vp, struct seg *seg, int calls)
{
	double t0 = now();
	int i;

	for (i = 0; i < calls; i++) {
		u_offset_t o = 0;
		size_t l = 0;
		page_t *plist;

		plist = pvn_read_kluster(vp, 0x8000, seg, (caddr_t)0x8000,
		    &o, &l, 0, 0x10000, 0);
		if (plist == NULL)
			fail("read_kluster: pvn_read_kluster returned NULL");
		pvn_read_done(plist, B_ERROR);
	}
	return (now() - t0);
}

static void
bench_read_kluster(int calls, int runs)
{
	struct seg *seg = &oracle_segs[0];
	double *t = calloc((size_t)runs, sizeof (double));
	vnode_t *vp;
	u_offset_t o = 0;
	size_t l = 0;
	page_t *plist, *pp;
	int i, n;
	double med;

	memset(seg, 0, sizeof (*seg));
	snprintf(seg->m_name, sizeof (seg->m_name), "seg");
	seg->m_kind = ORACLE_SEG_SEGMAP;
	oracle_nsegs = 1;
	vp = build_memory(0, KLUSTER_FREE);

	/* the scenario does what it says: a 16-page kluster at 0..64 KiB */
	plist = pvn_read_kluster(vp, 0x8000, seg, (caddr_t)0x8000, &o, &l, 0,
	    0x10000, 0);
	n = 0;
	pp = plist;
	if (pp != NULL) {
		do {
			n++;
			pp = pp->p_next;
		} while (pp != plist);
	}
	if (n != KLUSTER_PAGES || o != 0 || l != 0x10000)
		fail("read_kluster: not a 16-page kluster over 0..64 KiB");
	pvn_read_done(plist, B_ERROR);
	if (vp->v_pages != NULL || freemem != KLUSTER_FREE)
		fail("read_kluster: pvn_read_done(B_ERROR) left pages behind");

	if (t == NULL)
		fail("out of memory");
	(void) kluster_run(vp, seg, calls);	/* warm-up */
	for (i = 0; i < runs; i++)
		t[i] = kluster_run(vp, seg, calls);
	med = median(t, runs);
	printf("{\"scenario\": \"read_kluster\", \"flags\": \"B_ERROR\", "
	    "\"calls\": %d, \"pages\": %d, \"runs\": %d, \"median_s\": %.9g, "
	    "\"pages_per_s\": %.6g, \"klusters_per_s\": %.6g}\n", calls,
	    calls * KLUSTER_PAGES, runs, med,
	    (double)calls * KLUSTER_PAGES / med, (double)calls / med);
	free(t);
}

/* ---------------------------------------------------------------- */

static int putapage_calls;

/* ufs-like putapage: kluster the 8 KiB block, "write" it, write_done. */
static int
ufs_putapage(vnode_t *vp, page_t *pp, u_offset_t *offp, size_t *lenp,
    int flags, cred_t *cr)
{
	u_offset_t window = BLKSZ > PAGESIZE ? BLKSZ : (u_offset_t)PAGESIZE;
	u_offset_t o = 0;
	size_t l = 0;
	page_t *list;

	(void) cr;
	putapage_calls++;
	list = pvn_write_kluster(vp, pp, &o, &l, pp->p_offset & ~(window - 1),
	    (size_t)window, flags);
	pvn_write_done(list, B_WRITE | flags);
	if (offp != NULL)
		*offp = o;
	if (lenp != NULL)
		*lenp = l;
	return (0);
}

static double
fsync_run(int npages, int flags)
{
	vnode_t *vp = build_memory(npages, FSYNC_SPARE);
	double t0, dt;
	int err, i;

	putapage_calls = 0;
	t0 = now();
	err = pvn_vplist_dirty(vp, 0, ufs_putapage, flags, kcred);
	dt = now() - t0;

	/* it did what the scenario says */
	if (err != 0)
		fail("fsync: pvn_vplist_dirty failed");
	if (putapage_calls != (npages + 1) / 2)
		fail("fsync: not one putapage per 8 KiB block");
	for (i = 0; i < npages; i++)
		if (oracle_phys[i].p_nrm & P_MOD)
			fail("fsync: a page is still dirty");
	/* unmapped written pages are freed even without B_FREE (7.16) */
	if (freemem != (pgcnt_t)(npages + FSYNC_SPARE))
		fail("fsync: not every written page was freed");
	return (dt);
}

static void
bench_fsync(int npages, int runs, int flags, const char *fname)
{
	double *t = calloc((size_t)runs, sizeof (double));
	double med;
	int i;

	if (t == NULL)
		fail("out of memory");
	(void) fsync_run(npages, flags);	/* warm-up */
	for (i = 0; i < runs; i++)
		t[i] = fsync_run(npages, flags);
	med = median(t, runs);
	printf("{\"scenario\": \"fsync\", \"flags\": \"%s\", \"pages\": %d, "
	    "\"runs\": %d, \"median_s\": %.9g, \"pages_per_s\": %.6g}\n",
	    fname, npages, runs, med, (double)npages / med);
	free(t);
}

/* ---------------------------------------------------------------- */

static int
posarg(const char *s, const char *what)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v <= 0 || v > 10000000) {
		fprintf(stderr, "pvn_bench: %s must be a positive integer, "
		    "not '%s'\n", what, s);
		exit(2);
	}
	return ((int)v);
}

int
main(int argc, char **argv)
{
	int calls = 3000, npages = 100000, runs = 7;

	if (argc > 4) {
		fprintf(stderr, "usage: pvn_bench [CALLS [PAGES [RUNS]]]\n");
		return (2);
	}
	if (argc > 1)
		calls = posarg(argv[1], "CALLS");
	if (argc > 2)
		npages = posarg(argv[2], "PAGES");
	if (argc > 3)
		runs = posarg(argv[3], "RUNS");

	oracle_set_pagesize(4096);
	minfree = desfree = lotsfree = throttlefree = pageout_reserve = 0;
	pages_before_pager = 0;
	write_free = 1;
	oracle_hat_vmodsort = 1;
	oracle_trace_enable(0);
	pvn_init();

	bench_read_kluster(calls, runs);
	bench_fsync(npages, runs, 0, "0");
	bench_fsync(npages, runs, B_ASYNC | B_FREE, "B_ASYNC|B_FREE");
	return (0);
}
