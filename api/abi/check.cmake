# check.cmake — ctest abi.abidiff: libevdb against the committed 1.0 baseline.
# -DABIDW -DABIDIFF -DSUPPRESSIONS -DLIB -DHEADERS -DBASELINE -DOUT
# To renew the baseline (only when a new major version starts):
#   abidw --headers-dir build/include/evdb --drop-private-types \
#     --exported-interfaces-only --no-corpus-path --short-locs --no-comp-dir-path \
#     --out-file api/abi/libevdb.so.1.abi build/lib/libevdb.so.1
include(${CMAKE_CURRENT_LIST_DIR}/compare.cmake)
evdb_abi_has_debug_info(${LIB} has_dwarf)
if(NOT has_dwarf)
  # Without -g abidw sees symbols only; the RelWithDebInfo/Debug builds check.
  message("ABI-CHECK-SKIPPED: ${LIB} has no debug info (build with -g to check its ABI)")
  return()
endif()
evdb_abi_compare(${BASELINE} ${LIB} ${HEADERS} ${OUT} result report)
if(NOT result STREQUAL "ok")
  message(FATAL_ERROR
    "libevdb's ABI removes or changes something of the 1.0 baseline ${BASELINE}; "
    "1.x may only add (new functions, fields appended to structs with struct_size, "
    "new table entries, new status codes: docs/abi.md).\n${report}")
endif()
message("libevdb's ABI keeps every part of the 1.0 baseline.\n${report}")
