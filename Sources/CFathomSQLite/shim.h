#ifndef CFATHOM_SQLITE_SHIM_H
#define CFATHOM_SQLITE_SHIM_H
#include <sqlite3.h>

/* SQLITE_TRANSIENT is a cast macro Swift cannot import: it tells sqlite to copy bound bytes. */
static inline void (*CFathomSQLite_transient(void))(void *) {
    return SQLITE_TRANSIENT;
}
#endif
