/*
 * Shadow of the illumos kernel header <sys/uio.h> for the pvnsim fidelity oracle.
 * Every kernel definition vm_pvn.c needs lives in the umbrella oracle.h.
 */
#include "oracle.h"
