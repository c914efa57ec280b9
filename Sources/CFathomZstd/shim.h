#ifndef CFATHOM_ZSTD_SHIM_H
#define CFATHOM_ZSTD_SHIM_H
#include <zstd.h>
#include <zstd_errors.h>
#endif
