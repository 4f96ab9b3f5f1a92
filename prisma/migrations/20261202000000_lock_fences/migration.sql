-- CreateTable
CREATE TABLE "lock_fences" (
    "name" TEXT NOT NULL,
    "token" BIGINT NOT NULL,

    CONSTRAINT "lock_fences_pkey" PRIMARY KEY ("name")
);
