// The doctest runner for every unit test in tests/unit.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

// The runtime's own tests ask for more memory than exists to check that
// dlc_create refuses it; under AddressSanitizer, malloc must then return
// NULL as it does without it, rather than abort.
extern "C" const char *__asan_default_options() { return "allocator_may_return_null=1"; }
