# `cmake --install` into a fresh prefix, then the installed dlc (with no
# DLC_RUNTIME_LIB) compiles the MLP into a library and its header.
file(REMOVE_RECURSE ${WORK})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD} --prefix ${WORK}/prefix
                RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install failed (${rc})")
endif()
foreach(f bin/dlc lib/dlc/libdlcrt.a include/dlc/dlc_runtime.h include/dlc/dlc_abi.h)
  if(NOT EXISTS ${WORK}/prefix/${f})
    message(FATAL_ERROR "not installed: ${f}")
  endif()
endforeach()
set(ENV{DLC_RUNTIME_LIB} "")
execute_process(COMMAND ${WORK}/prefix/bin/dlc ${SRC}/examples/mnist_mlp.dl -o ${WORK}/m.so
                RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT EXISTS ${WORK}/m.so OR NOT EXISTS ${WORK}/m.h)
  message(FATAL_ERROR "installed dlc could not build a library (${rc}): ${err}")
endif()
