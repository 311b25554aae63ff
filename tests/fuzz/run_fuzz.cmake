# SPDX-License-Identifier: MIT
# Runs one step of the fuzz tier for ctest (cmake -P, so no shell needed):
#   MODE=replay       FUZZER CORPUS [REGRESSIONS]: every committed input once
#   MODE=run          FUZZER CORPUS [REGRESSIONS] SECONDS SCRATCH ARTIFACTS:
#                     a short fuzz run; new units go to SCRATCH (listed
#                     first, so libFuzzer writes there), never to CORPUS
#   MODE=check_seeds  GENERATOR CORPUS SCRATCH: committed seeds are current
cmake_minimum_required(VERSION 3.25)

# The regressions directory of a target exists only once it has a crasher;
# checked here, at test time, so adding one needs no re-configure.
set(inputs ${CORPUS})
if(DEFINED REGRESSIONS AND IS_DIRECTORY "${REGRESSIONS}")
  list(APPEND inputs ${REGRESSIONS})
endif()
set(limits -rss_limit_mb=1024 -timeout=5)

if(MODE STREQUAL "replay")
  execute_process(COMMAND ${FUZZER} -runs=0 ${limits} ${inputs} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "replay of ${inputs} failed: ${rc}")
  endif()

elseif(MODE STREQUAL "run")
  # A fresh scratch corpus each time keeps the run's length and start-up
  # cost the same from one ctest to the next.
  file(REMOVE_RECURSE ${SCRATCH})
  file(MAKE_DIRECTORY ${SCRATCH} ${ARTIFACTS})
  execute_process(COMMAND ${FUZZER} -max_total_time=${SECONDS} ${limits}
                          -artifact_prefix=${ARTIFACTS}/ -print_final_stats=1
                          ${SCRATCH} ${inputs}
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "fuzzing failed (${rc}); the input is in ${ARTIFACTS}/. "
                        "Minimise it and add it under tests/fuzz/regressions/.")
  endif()

elseif(MODE STREQUAL "check_seeds")
  file(REMOVE_RECURSE ${SCRATCH})
  file(MAKE_DIRECTORY ${SCRATCH})
  execute_process(COMMAND ${GENERATOR} ${SCRATCH} OUTPUT_QUIET RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "ntm_make_seeds failed: ${rc}")
  endif()
  set(stale "")
  file(GLOB_RECURSE fresh RELATIVE ${SCRATCH} ${SCRATCH}/*)
  foreach(f IN LISTS fresh)
    # Hashed in process: a compare_files child per seed is slow on a busy box.
    set(want "")
    if(EXISTS ${CORPUS}/${f})
      file(SHA256 ${CORPUS}/${f} want)
    endif()
    file(SHA256 ${SCRATCH}/${f} have)
    if(NOT want STREQUAL have)
      list(APPEND stale ${f})
    endif()
  endforeach()
  # Generated names the generator no longer writes (hand-merged units,
  # which are not named seed-*, may stay).
  file(GLOB_RECURSE committed RELATIVE ${CORPUS} ${CORPUS}/*/seed-*)
  foreach(f IN LISTS committed)
    if(NOT EXISTS ${SCRATCH}/${f})
      list(APPEND stale ${f})
    endif()
  endforeach()
  if(stale)
    list(JOIN stale "\n  " text)
    message(FATAL_ERROR "committed seeds differ from the generator's output:\n  ${text}\n"
                        "Regenerate: ntm_make_seeds tests/fuzz/corpus (see tests/fuzz/README.md)")
  endif()

else()
  message(FATAL_ERROR "unknown MODE '${MODE}'")
endif()
