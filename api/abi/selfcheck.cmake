# selfcheck.cmake — ctest abi.abidiff_selfcheck: the rule of compare.cmake
# fails on a removed function and on a changed struct field, and passes on an
# added function and on a field appended to a struct.
# -DABIDW -DABIDIFF -DSUPPRESSIONS -DHEADERS -DWORK -DBASE -DREMOVED -DCHANGED -DADDED -DAPPENDED
include(${CMAKE_CURRENT_LIST_DIR}/compare.cmake)
file(MAKE_DIRECTORY ${WORK})
evdb_abi_dump(${BASE} ${HEADERS} ${WORK}/base.abi)
set(failures "")
foreach(pair "REMOVED;changed" "CHANGED;changed" "ADDED;ok" "APPENDED;ok")
  list(GET pair 0 variant)
  list(GET pair 1 expected)
  evdb_abi_compare(${WORK}/base.abi ${${variant}} ${HEADERS} ${WORK}/${variant}.abi result report)
  message("${variant}: ${result} (expected ${expected})\n${report}")
  if(NOT result STREQUAL expected)
    string(APPEND failures " ${variant}")
  endif()
endforeach()
if(failures)
  message(FATAL_ERROR "the ABI check misjudged:${failures}")
endif()
