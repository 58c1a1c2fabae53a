# Configures, builds and runs the fuzz targets for a bounded time; fails on a crash, a leak or
# an invariant violation. Used as a CTest test:
#   add_test(NAME fuzz_stream_reader COMMAND ${CMAKE_COMMAND} -DSOURCE_DIR=${PROJECT_SOURCE_DIR}
#            -DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/fuzz -P ${PROJECT_SOURCE_DIR}/tests/fuzz/run_fuzz.cmake)
# Optional: -DCLANGXX=clang++-19 (default), -DSECONDS=20 (default).
if(NOT SOURCE_DIR OR NOT WORK_DIR)
  message(FATAL_ERROR "usage: cmake -DSOURCE_DIR=<repo> -DWORK_DIR=<dir> -P run_fuzz.cmake")
endif()
if(NOT CLANGXX)
  set(CLANGXX clang++-19)
endif()
if(NOT SECONDS)
  set(SECONDS 20)
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/fuzz -B ${WORK_DIR} -G Ninja
                        -DCMAKE_CXX_COMPILER=${CLANGXX} RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "configuring the fuzz targets failed")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR} -j2 RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "building the fuzz targets failed")
endif()
file(MAKE_DIRECTORY ${WORK_DIR}/corpus ${WORK_DIR}/tls_corpus)
# The two fuzzers run at the same time, one per core (CI has 2; the CTest hook is RUN_SERIAL):
# execute_process runs its COMMANDs concurrently (as a pipeline: neither reads its standard
# input, and libFuzzer reports on standard error), and RESULTS_VARIABLE has each one's exit code.
execute_process(COMMAND ${WORK_DIR}/stream_reader_fuzz -max_total_time=${SECONDS} -rss_limit_mb=2048
                        -max_len=1024 -len_control=0 -print_final_stats=1 ${WORK_DIR}/corpus
                COMMAND ${WORK_DIR}/tls_server_fuzz -max_total_time=${SECONDS} -rss_limit_mb=2048
                        -max_len=4096 -print_final_stats=1 ${WORK_DIR}/tls_corpus
                WORKING_DIRECTORY ${WORK_DIR} RESULTS_VARIABLE codes)
list(GET codes 0 rc_stream)
list(GET codes 1 rc_tls)
if(rc_stream)
  message(FATAL_ERROR "stream_reader_fuzz found a problem (exit ${rc_stream}); the crashing input is in ${WORK_DIR}")
endif()
if(rc_tls)
  message(FATAL_ERROR "tls_server_fuzz found a problem (exit ${rc_tls}); the crashing input is in ${WORK_DIR}")
endif()
