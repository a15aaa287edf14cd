// Syntax-check stub (tools/check-metal): the few Foundation and libdispatch declarations that
// metal_runtime.m uses, written from Apple's documented signatures. Not Apple's header.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef unsigned long NSUInteger;
typedef long NSInteger;
typedef signed char BOOL;
typedef double CFTimeInterval;
typedef const void *CFTypeRef;
#define YES ((BOOL)1)
#define NO ((BOOL)0)
#define nil ((id)0)
#define NS_ASSUME_NONNULL_BEGIN
#define NS_ASSUME_NONNULL_END

typedef struct _NSRange { NSUInteger location; NSUInteger length; } NSRange;
static inline NSRange NSMakeRange(NSUInteger loc, NSUInteger len) { NSRange r = {loc, len}; return r; }

@protocol NSObject
@end
__attribute__((objc_root_class))
@interface NSObject <NSObject> {
    Class isa;
}
+ (instancetype)new;
+ (instancetype)alloc;
- (instancetype)init;
@end

typedef struct {
    unsigned long state;
    id __unsafe_unretained *itemsPtr;
    unsigned long *mutationsPtr;
    unsigned long extra[5];
} NSFastEnumerationState;
@protocol NSFastEnumeration
- (NSUInteger)countByEnumeratingWithState:(NSFastEnumerationState *)state objects:(id __unsafe_unretained[])buffer count:(NSUInteger)len;
@end

@interface NSString : NSObject
+ (instancetype)stringWithUTF8String:(const char *)s;
@property(readonly) const char *UTF8String;
@end

@interface NSError : NSObject
@property(readonly, copy) NSString *localizedDescription;
@end

@interface NSData : NSObject
+ (instancetype)dataWithBytes:(const void *)bytes length:(NSUInteger)length;
@property(readonly) const void *bytes;
@property(readonly) NSUInteger length;
@end

@interface NSArray<ObjectType> : NSObject <NSFastEnumeration>
@property(readonly) NSUInteger count;
- (ObjectType)objectAtIndexedSubscript:(NSUInteger)index;
@end
@interface NSMutableArray<ObjectType> : NSArray<ObjectType>
+ (instancetype)array;
- (void)addObject:(ObjectType)object;
- (void)removeAllObjects;
@end

@interface NSMutableDictionary<KeyType, ObjectType> : NSObject
+ (instancetype)dictionary;
- (ObjectType)objectForKeyedSubscript:(KeyType)key;
- (void)setObject:(ObjectType)object forKeyedSubscript:(KeyType)key;
@end

@interface NSHashTable<ObjectType> : NSObject <NSFastEnumeration>
+ (NSHashTable<ObjectType> *)weakObjectsHashTable;
- (void)addObject:(ObjectType)object;
- (void)removeObject:(ObjectType)object;
@property(readonly, copy) NSArray<ObjectType> *allObjects;
@end

id CFBridgingRelease(CFTypeRef X);

// libdispatch
typedef long dispatch_once_t;
typedef struct dispatch_queue_s *dispatch_queue_t;
typedef struct dispatch_data_s *dispatch_data_t;
typedef void (^dispatch_block_t)(void);
void dispatch_once(dispatch_once_t *predicate, dispatch_block_t block);
dispatch_queue_t dispatch_get_global_queue(long identifier, unsigned long flags);
dispatch_data_t dispatch_data_create(const void *buffer, size_t size, dispatch_queue_t queue, dispatch_block_t destructor);
enum { QOS_CLASS_DEFAULT = 0x15 };
