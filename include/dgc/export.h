// DGC_EXPORT marks what libdgc exports; everything else stays inside the library.
#pragma once

#define DGC_EXPORT __attribute__((visibility("default")))
