-- CreateTable
CREATE TABLE "ViewEvent" (
    "eventId" TEXT NOT NULL,
    "productId" INTEGER NOT NULL,
    "appliedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ViewEvent_pkey" PRIMARY KEY ("eventId")
);

-- CreateIndex
CREATE INDEX "ViewEvent_appliedAt_idx" ON "ViewEvent"("appliedAt");
