/*
 * Registration with Debian's real libxentoolcore, so xentoolcore_restrict_all
 * reaches the shim's handles as it reaches the real libraries' handles.
 * libxentoolcore exports the two functions but installs no header for
 * them; the layout below is its internal one (a callback pointer, then a
 * two-pointer list link the library owns).
 */
#ifndef SHIM_TOOLCORE_H
#define SHIM_TOOLCORE_H

#include <xentoolcore.h>

typedef struct Xentoolcore__Active_Handle Xentoolcore__Active_Handle;
typedef int Xentoolcore__Restrict_Callback(Xentoolcore__Active_Handle *, domid_t domid);

struct Xentoolcore__Active_Handle {
    Xentoolcore__Restrict_Callback *restrict_callback;
    struct {
        Xentoolcore__Active_Handle *next;
        Xentoolcore__Active_Handle **prev;
    } entry;
};

void xentoolcore__register_active_handle(Xentoolcore__Active_Handle *ah);
void xentoolcore__deregister_active_handle(Xentoolcore__Active_Handle *ah);

#endif
