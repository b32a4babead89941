/* ioreqd's buffered-ring consumer alone, in-process (bench-consumer.c). */
#ifndef BENCH_CONSUMER_H
#define BENCH_CONSUMER_H

int bench_consumer(unsigned long writes);

#endif
