// A shared library for `nogil ps`'s reader test (tests/concurrent_futures_detail_debug_offsets_test.cpp):
// a function a process pool runs from a library the program loaded through a symlink.
namespace nogil_ps_testlib {
int triple(int x) { return 3 * x; }
}  // namespace nogil_ps_testlib

// dlsym's way in: the function's address (a C++ name is mangled).
extern "C" __attribute__((visibility("default"))) int (*nogil_ps_testlib_function())(int) { return &nogil_ps_testlib::triple; }
