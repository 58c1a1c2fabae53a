#include "machine.hpp"

#include <fmt/format.h>

#include <cstdlib>
#include <fstream>
#include <sched.h>
#include <string>
#include <sys/utsname.h>
#include <unistd.h>

namespace nogil_tool {

namespace {

std::string cpu_model() {
    std::ifstream in("/proc/cpuinfo");
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("model name", 0) == 0 || line.rfind("Model", 0) == 0) {
            auto colon = line.find(':');
            if (colon != std::string::npos) return line.substr(line.find_first_not_of(" \t", colon + 1));
        }
    }
    return "unknown";
}

int usable_cores() {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set);
    return static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
}

std::string compiler() {
#if defined(__clang__)
    std::string name = fmt::format("clang {}.{}.{}", __clang_major__, __clang_minor__, __clang_patchlevel__);
#elif defined(__GNUC__)
    std::string name = fmt::format("g++ {}.{}.{}", __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__);
#else
    std::string name = "unknown compiler";
#endif
    return fmt::format("{}, C++ {}, {} build", name, __cplusplus, NOGIL_BUILD_TYPE);
}

}  // namespace

double load_average() {
    double load[1] = {0};
    return getloadavg(load, 1) == 1 ? load[0] : 0;
}

Machine describe_machine() {
    Machine m;
    m.cores = usable_cores();
    m.online_cpus = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
    m.cpu_model = cpu_model();
    m.load_before = load_average();
    m.load_after = m.load_before;
    utsname u{};
    if (uname(&u) == 0) m.kernel = fmt::format("{} {} {}", u.sysname, u.release, u.machine);
    m.compiler = compiler();
    m.memory_bytes = static_cast<std::int64_t>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGESIZE);
    return m;
}

}  // namespace nogil_tool
