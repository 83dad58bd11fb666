/*
 * Shadow of the illumos kernel header <vm/seg.h> for the pvnsim fidelity oracle.
 * Every kernel definition vm_pvn.c needs lives in the umbrella oracle.h.
 */
#include "oracle.h"
