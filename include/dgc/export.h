// What libdgc exports. The library is built with hidden visibility (-fvisibility=hidden
// -fvisibility-inlines-hidden), so only the declarations marked DGC_EXPORT are part of its ABI:
// the classes and free functions of include/dgc/. Everything in dgc::detail stays inside.
//
// Mark a class whose members are defined in the library (its typeinfo and vtable go with it,
// which exceptions and dynamic_cast across the library boundary need) and every free function
// defined in the library. Plain structs defined entirely in a header need no mark.
#pragma once

// DGC_HIDDEN keeps one member of an exported class inside (a constructor only the library calls,
// whose signature names a dgc::detail type).
#if defined(__GNUC__) || defined(__clang__)
#define DGC_EXPORT __attribute__((visibility("default")))
#define DGC_HIDDEN __attribute__((visibility("hidden")))
#else
#define DGC_EXPORT
#define DGC_HIDDEN
#endif
