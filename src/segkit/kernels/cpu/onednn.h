#pragma once
// oneDNN's API where segkit is built with it: SEGKIT_HAVE_DNNL is 1 then (set by
// cmake/FindSegkitDnnl.cmake), 0 otherwise.
#ifndef SEGKIT_HAVE_DNNL
#define SEGKIT_HAVE_DNNL 0
#endif
#if SEGKIT_HAVE_DNNL
#include <oneapi/dnnl/dnnl.hpp>
#endif
